#!/usr/bin/env bash
# Package test: the amd64 packages install with dpkg -i into a fresh Debian 12 root (mmdebstrap,
# minbase, plus the packages' Depends and Mosquitto) and run there. Nothing on this machine is
# installed or changed; the root is thrown away (mmdebstrap's null format). In the root:
#   - dpkg -i of xrm-gateway and xrm-devsim, then `xrm-gatewayd --version` and the other programs;
#   - the system user and group, the conffiles, the unit enabled, man pages, the Mosquitto snippet;
#   - the shipped configuration is refused until gateway.id and upstream.url are set (exit 2);
#   - README.Debian's steps on a free loopback port: the local broker with dynamic security from the
#     snippet, the daemon as the xrm-gateway user, a technician in the group provisions a device
#     with xrmctl, and a user outside the group is refused by the socket's permissions;
#   - systemd-analyze verify accepts the installed unit, and its security exposure is printed;
#   - reinstalling (the upgrade path) keeps a changed conffile; purge removes database, conffiles
#     and programs and leaves the system user.
#
#   tests/package/install.sh DIR        (DIR holds xrm-gateway_*_amd64.deb, xrm-devsim_*_amd64.deb)
#
# Mirror: XRM_DEBIAN_MIRROR (default http://deb.debian.org/debian). Needs root (chroot) or
# unprivileged user namespaces (mmdebstrap picks).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: install.sh DIR}
arch=$(dpkg --print-architecture)

shopt -s nullglob
gw=("$dir"/xrm-gateway_*_"$arch".deb)
ds=("$dir"/xrm-devsim_*_"$arch".deb)
if [[ ${#gw[@]} -ne 1 || ${#ds[@]} -ne 1 ]]; then
  echo "install.sh: need one xrm-gateway and one xrm-devsim package for $arch in $dir (scripts/packages.sh $arch)" >&2
  exit 1
fi
command -v mmdebstrap >/dev/null || { echo "install.sh: mmdebstrap missing (scripts/deps.sh packages)" >&2; exit 1; }

# The packages' own dependencies, without versions (apt picks bookworm's, which satisfy them).
deps=$( { dpkg-deb -f "${gw[0]}" Depends; echo ,; dpkg-deb -f "${ds[0]}" Depends; } | tr ',' '\n' |
        sed -e 's/(.*)//' -e 's/|.*//' -e 's/ //g' | grep -v '^$' | grep -v '^xrm-' | sort -u | paste -sd, -)
# A free loopback port for the broker in the root (the root shares this machine's network).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

mirror=${XRM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "install.sh: bookworm minbase + $deps,mosquitto,mosquitto-clients,systemd; broker port $port"
# shellcheck disable=SC2016  # $1 in the hooks is the root, expanded by mmdebstrap's sh
mmdebstrap --variant=minbase --quiet --skip=check/signed-by \
  --include="$deps,mosquitto,mosquitto-clients,systemd" \
  --customize-hook="copy-in ${gw[0]} ${ds[0]} $here/in-root-check.sh $here/in-root-upgrade.sh /tmp" \
  --customize-hook='chroot "$1" sh -c "dpkg -i /tmp/xrm-gateway_*.deb /tmp/xrm-devsim_*.deb"' \
  --customize-hook="chroot \"\$1\" bash /tmp/in-root-check.sh $port" \
  --customize-hook="\"$here/verify-unit.sh\" \"\$1\"" \
  --customize-hook='systemd-analyze security --root="$1" --offline=yes --no-pager xrm-gatewayd.service | tail -n 1' \
  --customize-hook='chroot "$1" bash /tmp/in-root-upgrade.sh' \
  bookworm /dev/null \
  "deb [signed-by=$keyring] $mirror bookworm main" "deb [signed-by=$keyring] $mirror bookworm-updates main"
echo "install.sh: ok"
