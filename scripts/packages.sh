#!/usr/bin/env bash
# The Debian packages for amd64, arm64 and armhf, in one command (the README's and
# docs/operations.md's): installs what is missing, builds the release tree (amd64) and the two
# cross trees (aarch64 -> arm64, armhf -> armhf, against build/sysroot-armhf), runs cpack in each,
# and copies the packages to build/packages/:
#
#   xrm-gateway_VERSION-1_ARCH.deb   xrm-gatewayd, xrmctl, xrm-tap, unit, conffiles, man pages
#   xrm-devsim_VERSION-1_ARCH.deb    the simulated fleet and its scenarios
#
#   scripts/packages.sh                 all three architectures
#   scripts/packages.sh amd64 armhf     only these
#
# scripts/test.sh runs this and then the package tests (ctest --preset packages: lintian on
# every package, the amd64 package installed with dpkg -i in a fresh bookworm root, its unit
# through systemd-analyze verify).
set -euo pipefail
cd "$(dirname "$0")/.."

archs=("$@")
[[ ${#archs[@]} -eq 0 ]] && archs=(amd64 arm64 armhf)
targets=(packages)
for a in "${archs[@]}"; do
  case $a in
    amd64) ;;
    arm64) targets+=(aarch64) ;;
    armhf) targets+=(armhf) ;;
    *) echo "packages.sh: unknown architecture '$a' (amd64, arm64 or armhf)" >&2; exit 2 ;;
  esac
done
scripts/deps.sh "${targets[@]}"

out=build/packages
mkdir -p "$out"
for a in "${archs[@]}"; do
  case $a in
    amd64) preset=release ;;
    arm64) preset=aarch64 ;;
    armhf) preset=armhf ;;
  esac
  echo "==> $a: cmake --preset $preset, build, cpack"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  rm -rf "build/$preset/packages"
  env=()
  # armhf: dpkg-shlibdeps reads the sysroot's package database (scripts/sysroot-dpkg-db.sh).
  [[ $a == armhf ]] && env=(DPKG_ADMINDIR="$PWD/build/sysroot-armhf/var/lib/xrm-dpkg")
  (cd "build/$preset" && env "${env[@]}" cpack -G DEB >/dev/null)
  rm -f "$out"/*_"$a".deb
  cp "build/$preset"/packages/*_"$a".deb "$out"/
done
ls -l "$out"/*.deb
