#!/usr/bin/env bash
# Writes a dpkg database for a sysroot made by mmdebstrap --variant=extract (which unpacks the
# packages but records nothing), so that dpkg-shlibdeps can name the armhf packages the binaries
# need: DPKG_ADMINDIR=ROOT/var/lib/xrm-dpkg dpkg-shlibdeps -lROOT/usr/lib/TRIPLE ...
# Run by scripts/sysroot.sh as mmdebstrap's --extract-hook, while the .deb files are still in
# ROOT/var/cache/apt/archives:
#
#   scripts/sysroot-dpkg-db.sh ROOT
#
# Each package's file list is written with ROOT in front of every path (and, for the files a
# package ships under /lib, /bin or /sbin, also under ROOT/usr/...: the sysroot is merged-usr),
# because dpkg-shlibdeps asks dpkg-query which package owns the file it found in ROOT. The
# packages' shlibs and symbols files are copied as dpkg would.
set -euo pipefail

root=${1:?usage: sysroot-dpkg-db.sh ROOT}
root=$(cd "$root" && pwd)
db=$root/var/lib/xrm-dpkg
rm -rf "$db"
mkdir -p "$db/info" "$db/updates" "$db/triggers"
: > "$db/status"
echo 1 > "$db/info/format"   # multiarch layout: info/PKG:ARCH.list for Multi-Arch: same packages
control=$(mktemp -d)
trap 'rm -rf "$control"' EXIT

for deb in "$root"/var/cache/apt/archives/*.deb; do
  pkg=$(dpkg-deb -f "$deb" Package)
  arch=$(dpkg-deb -f "$deb" Architecture)
  name=$pkg
  [[ $(dpkg-deb -f "$deb" Multi-Arch) == same ]] && name=$pkg:$arch
  {
    dpkg-deb -f "$deb" Package Version Architecture Multi-Arch Source Maintainer Description
    echo "Status: install ok installed"
    echo
  } >> "$db/status"
  rm -rf "${control:?}"/*
  dpkg-deb --control "$deb" "$control"
  for f in shlibs symbols; do
    [[ -f $control/$f ]] && cp "$control/$f" "$db/info/$name.$f"
  done
  dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' -e '/^$/d' |
    while IFS= read -r path; do
      echo "$root$path"
      case $path in /lib/* | /bin/* | /sbin/*) echo "$root/usr$path" ;; esac
    done > "$db/info/$name.list"
done
printf '%s\n' "$(dpkg --print-architecture)" "$(ls "$root"/var/cache/apt/archives/*.deb | sed -n 's/.*_\([a-z0-9]*\)\.deb$/\1/p' | grep -vx all | sort -u | head -1)" \
  | sort -u > "$db/arch"
echo "sysroot-dpkg-db.sh: $(grep -c '^Package:' "$db/status") packages recorded in $db"
