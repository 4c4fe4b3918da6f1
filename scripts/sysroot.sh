#!/usr/bin/env bash
# Creates the target root file system (sysroot) a cross build compiles, links and runs its unit
# tests against: build/sysroot-<target>, the target's Debian library packages unpacked by
# mmdebstrap (scripts/deps.sh installs it, with the cross compiler and qemu-user).
#
#   scripts/sysroot.sh armhf        build/sysroot-armhf (Debian bookworm armhf)
#
# Why a sysroot and not Debian multiarch (:armhf packages, as the aarch64 build uses): Multi-Arch
# requires the same version of a library on every architecture, so a mirror whose
# bookworm-security index for armhf lags the host's (seen here and on CI: "File has unexpected
# size ... Mirror sync in progress?") makes the :armhf packages uninstallable. A sysroot is its own
# self-consistent set of versions, needs no change to the host's dpkg, and no root.
#
# Contents: bookworm + bookworm-updates main (the security suite is left out on purpose; the
# sysroot is for building and unit tests, the device gets its packages from its own apt), the
# libraries the tree links (keep TARGET_LIBS in sync with scripts/deps.sh) plus their
# dependencies, and the header-only packages the build finds with find_package.
# --variant=extract only unpacks the packages: no maintainer script runs, no emulation is needed.
# --mode=chrootless: nothing is chrooted or mounted, so it runs as a normal user (the files are
# then owned by that user, which is what a build tree wants).
#
# Idempotent: a complete sysroot (its stamp file matches the package list) is left alone and no
# mirror is asked; an incomplete or outdated one is recreated. Mirror: XRM_DEBIAN_MIRROR
# (default http://deb.debian.org/debian). Output directory: XRM_SYSROOT (default as above).
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-}
case "$target" in
  armhf) suite=bookworm; arch=armhf ;;
  *) echo "usage: scripts/sysroot.sh armhf" >&2; exit 2 ;;
esac

TARGET_LIBS=(
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev libboost-dev libsqlite3-dev libprotobuf-dev
  libcpputest-dev libtomlplusplus-dev libsystemd-dev libqrencode-dev
)
# Architecture: all header-only packages: their CMake package files must come from the sysroot
# too, or find_package would refuse them (CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY).
HEADER_ONLY=(libcli11-dev nlohmann-json3-dev rapidjson-dev)
# What the unit tests run with under qemu-arm -L <sysroot> (most are dependencies anyway).
RUNTIME=(libc6 libstdc++6 libgcc-s1)

mirror=${XRM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=${XRM_SYSROOT:-build/sysroot-$target}
packages=$(printf '%s\n' "${TARGET_LIBS[@]}" "${HEADER_ONLY[@]}" "${RUNTIME[@]}" | sort | paste -sd, -)
stamp_content="suite=$suite arch=$arch layout=merged-usr dpkg-db=1 mirror=$mirror packages=$packages"
stamp=$root/.xrm-sysroot-complete

if [[ -f $stamp && $(<"$stamp") == "$stamp_content" ]]; then
  echo "sysroot.sh: $root is complete"
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "sysroot.sh: mmdebstrap missing; run scripts/deps.sh $target" >&2; exit 1; }

echo "sysroot.sh: creating $root ($suite $arch from $mirror)"
rm -rf "${root:?}"
mkdir -p "$(dirname "$root")"
# chrootless warns when run as root; with --variant=extract it runs no package script at all.
# signed-by is given explicitly, so mmdebstrap needs no gpg to infer it; apt still checks the
# archive's signatures against Debian's keyring (debian-archive-keyring, on every Debian system).
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# The setup hook makes lib, bin and sbin symbolic links into usr/ before anything is unpacked, as
# on an installed bookworm system (mmdebstrap's own merged-usr hook does the same but also runs
# dpkg --install, which needs root). This matters for qemu -L: it maps a path the
# loader asks for (/lib/<triple>/libstdc++.so.6) into the sysroot only when it exists there, and
# otherwise opens the HOST's file, which on a host with :armhf multiarch packages is a different
# build of the library.
# shellcheck disable=SC2016  # the hook's $1 (the new root) is expanded by mmdebstrap's sh
# The extract hook records the packages in a dpkg database of the sysroot's own
# (var/lib/xrm-dpkg), from which dpkg-shlibdeps names the armhf package dependencies
# (scripts/packages.sh); the .deb files it reads are gone once mmdebstrap finishes.
mmdebstrap --mode=chrootless --variant=extract --architectures="$arch" --include="$packages" \
  --setup-hook='for d in bin sbin lib; do mkdir -p "$1/usr/$d" && ln -s "usr/$d" "$1/$d"; done' \
  --extract-hook="\"$PWD/scripts/sysroot-dpkg-db.sh\" \"\$1\"" \
  --skip=check/signed-by --quiet "$suite" "$root" \
  "deb [signed-by=$keyring] $mirror $suite main" "deb [signed-by=$keyring] $mirror $suite-updates main"

# As root, mmdebstrap also adds /dev entries; a sysroot has no use for them.
rm -rf "${root:?}/dev"
# Packages ship absolute symbolic links (usr/lib/<triple>/libm.so -> /lib/<triple>/libm.so.6,
# lib/ld-linux-armhf.so.3 -> /lib/<triple>/...). Seen from the build host or through qemu -L
# they would point into the host's own file system; make them relative to the sysroot.
while IFS= read -r -d '' link; do
  dest=$(readlink "$link")
  ln -sfn "$(realpath -ms --relative-to="$(dirname "$link")" "$root$dest")" "$link"
done < <(find "$root" -type l -lname '/*' -print0)
# qemu -L reads <sysroot>/etc/ld.so.cache when it exists, else the HOST's cache, which can list
# the host's own :armhf multiarch libraries. An empty cache is ignored by the loader, which then
# searches its default directories (<sysroot>/lib/<triple>, <sysroot>/usr/lib/<triple>).
: >"$root/etc/ld.so.cache"
# Leftovers of the extraction that a build never needs.
rm -rf "$root/var/cache/apt" "$root/var/lib/apt/lists"

printf '%s' "$stamp_content" >"$stamp"
echo "sysroot.sh: $root complete ($(du -sh "$root" | cut -f1))"
