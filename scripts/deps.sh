#!/usr/bin/env bash
# Installs every Debian package the build, tests, demo and cross builds need. Idempotent: when
# everything is present it changes nothing and asks no mirror. Uses sudo when not root.
#
#   scripts/deps.sh                 host build, tests and demo
#   scripts/deps.sh aarch64         ... plus the arm64 cross toolchain, :arm64 libraries, qemu
#   scripts/deps.sh armhf           ... plus the armhf cross toolchain, qemu, mmdebstrap, and then
#                                   the armhf sysroot build/sysroot-armhf (scripts/sysroot.sh)
#   scripts/deps.sh aarch64 armhf   both
#   scripts/deps.sh packages        ... plus what building and testing the Debian packages needs
#
# aarch64 uses Debian multiarch (:arm64 packages next to the host's). armhf uses a sysroot instead,
# which leaves the host's dpkg alone: Multi-Arch needs one version per library on every
# architecture, and a mirror lagging on bookworm-security for armhf made that impossible here.
set -euo pipefail

HOST_PACKAGES=(
  build-essential cmake pkg-config file
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
  libboost-dev libsqlite3-dev sqlite3
  libprotobuf-dev protobuf-compiler
  libcpputest-dev
  libtomlplusplus-dev libcli11-dev libsystemd-dev nlohmann-json3-dev rapidjson-dev libqrencode-dev
  mosquitto mosquitto-clients openssl jq
  python3 valgrind
  clang libclang-rt-14-dev
)
# Libraries the daemon and its unit tests link, per foreign architecture (Multi-Arch: same).
# scripts/sysroot.sh has the same list for the sysroot targets.
TARGET_LIBS=(
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev libboost-dev libsqlite3-dev libprotobuf-dev
  libcpputest-dev libtomlplusplus-dev libsystemd-dev libqrencode-dev
)

declare -A DEB_ARCH=([aarch64]=arm64)   # multiarch targets
declare -A CROSS_GXX=([aarch64]=g++-aarch64-linux-gnu [armhf]=g++-arm-linux-gnueabihf)

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps.sh: not root and no sudo; install the packages as root" >&2; exit 1; }
  SUDO=(sudo)
fi

wanted=("${HOST_PACKAGES[@]}")
foreign=()
sysroots=()
for target in "$@"; do
  case "$target" in
    aarch64)
      arch=${DEB_ARCH[$target]}
      foreign+=("$arch")
      wanted+=("${CROSS_GXX[$target]}" qemu-user)
      for lib in "${TARGET_LIBS[@]}"; do wanted+=("$lib:$arch"); done
      ;;
    armhf)
      # Host packages only; the target's libraries go into the sysroot, not into dpkg.
      wanted+=("${CROSS_GXX[$target]}" qemu-user mmdebstrap debian-archive-keyring)
      sysroots+=("$target")
      ;;
    packages)
      # cpack's dpkg-shlibdeps, lintian, a fresh bookworm root for the install test,
      # systemd-analyze for the unit, groff for the man pages' warnings.
      wanted+=(dpkg-dev lintian mmdebstrap debian-archive-keyring systemd groff-base man-db python3)
      ;;
    *) echo "deps.sh: unknown target '$target' (aarch64, armhf or packages)" >&2; exit 2 ;;
  esac
done

# The sysroots are made by the user who asked for them (under sudo: the one who ran sudo), so
# that the build tree stays theirs. scripts/sysroot.sh needs no root and is itself idempotent.
make_sysroots() {
  local target
  for target in "${sysroots[@]}"; do
    if [[ $(id -u) -eq 0 && -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
      sudo -u "$SUDO_USER" -- scripts/sysroot.sh "$target"
    else
      scripts/sysroot.sh "$target"
    fi
  done
}
cd "$(dirname "$0")/.."

native=$(dpkg --print-architecture)
installed() {  # installed PKG[:ARCH]; an unqualified name means the native or the "all" package
  local q
  if [[ "$1" == *:* ]]; then q=("$1"); else q=("$1:$native" "$1:all"); fi
  for name in "${q[@]}"; do
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null) == installed ]] && return 0
  done
  return 1
}
missing=()
for pkg in "${wanted[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps.sh: all ${#wanted[@]} packages present"
  make_sysroots
  exit 0
fi
echo "deps.sh: installing ${#missing[@]} packages: ${missing[*]}"

for arch in "${foreign[@]}"; do
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    "${SUDO[@]}" dpkg --add-architecture "$arch"
  fi
done

export DEBIAN_FRONTEND=noninteractive
# A mirror that is mid-sync can fail one index (seen here for bookworm-security armhf); apt then
# ignores that index and says so. The install below decides whether what is left is enough.
"${SUDO[@]}" apt-get update -q || echo "deps.sh: apt-get update reported errors; trying the install anyway" >&2
# Multi-Arch: same packages must have one version on every architecture; installing the host
# packages again together with the foreign ones lets apt move both to the same candidate.
if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  echo "deps.sh: apt-get install failed; for cross targets this is usually a mirror that lacks the" >&2
  echo "deps.sh: same package version for every architecture (see docs/operations.md, 'Cross builds')" >&2
  exit 1
fi
make_sysroots
echo "deps.sh: done"
