#!/usr/bin/env bash
# Runs inside the fresh root of tests/package/install.sh after in-root-check.sh and the unit's
# checks: the upgrade path and purge.
#
#   bash /tmp/in-root-upgrade.sh
set -euo pipefail
fail() { echo "in-root-upgrade: FAIL: $*" >&2; exit 1; }
ok() { echo "in-root-upgrade: ok: $*"; }

# Upgrade path: the same package again (postinst configure with the old version) keeps the changed
# conffile; purge removes the database and the conffiles, and leaves the user.
dpkg -i /tmp/xrm-gateway_*.deb >/tmp/reinstall.log 2>&1 || fail "reinstall: $(cat /tmp/reinstall.log)"
grep -q '^id = "gw-pkg-test"' /etc/xrm-gateway/gateway.toml || fail "reinstall replaced the changed gateway.toml"
ok "reinstall (upgrade path) kept the changed conffile"
dpkg --purge xrm-gateway >/tmp/purge.log 2>&1 || fail "purge: $(cat /tmp/purge.log)"
[[ ! -e /var/lib/xrm-gateway && ! -e /etc/xrm-gateway/gateway.toml && ! -e /usr/sbin/xrm-gatewayd ]] \
  || fail "purge left $(ls -d /var/lib/xrm-gateway /etc/xrm-gateway/gateway.toml /usr/sbin/xrm-gatewayd 2>/dev/null)"
getent passwd xrm-gateway >/dev/null || fail "purge removed the system user"
ok "purge removed the database, the conffiles and the programs; the user stays"
