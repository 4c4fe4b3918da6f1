#!/usr/bin/env bash
# Runs inside the fresh root of tests/package/install.sh, after dpkg -i of the packages.
# Every check prints what it checked; the first failure exits non-zero with what was wrong.
#
#   bash /tmp/in-root-check.sh BROKER_PORT
set -euo pipefail
port=${1:?usage: in-root-check.sh PORT}
fail() { echo "in-root-check: FAIL: $*" >&2; exit 1; }
ok() { echo "in-root-check: ok: $*"; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# The programs run from the package.
v=$(xrm-gatewayd --version) || fail "xrm-gatewayd --version exited $?"
[[ $v == "xrm-gatewayd $(dpkg-query -W -f='${Version}' xrm-gateway | sed 's/-[^-]*$//')" ]] \
  || fail "xrm-gatewayd --version printed '$v'"
ok "$v"
xrmctl --version >/dev/null || fail "xrmctl --version"
xrm-tap --help >/dev/null || fail "xrm-tap --help"
xrm-devsim check /usr/share/xrm-devsim/scenarios/demo.toml >/dev/null || fail "xrm-devsim check of the shipped demo scenario"
ok "xrmctl, xrm-tap, xrm-devsim run; the shipped scenario checks"

# User, group, files.
getent group xrm-gateway >/dev/null || fail "no group xrm-gateway"
entry=$(getent passwd xrm-gateway) || fail "no user xrm-gateway"
[[ $entry == *:/var/lib/xrm-gateway:/usr/sbin/nologin ]] || fail "user xrm-gateway: $entry"
[[ $(id -gn xrm-gateway) == xrm-gateway ]] || fail "xrm-gateway's primary group is $(id -gn xrm-gateway)"
ok "system user and group: $entry"
conffiles=$(dpkg-query -W -f='${Conffiles}' xrm-gateway)
for f in /etc/xrm-gateway/gateway.toml /etc/xrm-gateway/profiles.toml; do
  grep -q " $f " <<<"$conffiles" || fail "$f is not a conffile: $conffiles"
done
ok "conffiles: gateway.toml, profiles.toml"
[[ -L /etc/systemd/system/multi-user.target.wants/xrm-gatewayd.service ]] || fail "unit not enabled"
ok "unit enabled (multi-user.target.wants)"
for f in /usr/share/man/man8/xrm-gatewayd.8.gz /usr/share/man/man5/xrm-gateway.toml.5.gz \
         /usr/share/man/man1/xrmctl.1.gz /usr/share/man/man1/xrm-tap.1.gz /usr/share/man/man1/xrm-devsim.1.gz; do
  [[ -s $f ]] || fail "missing man page $f"
done
ok "man pages"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
plugin=$(sed -n 's/^plugin //p' /usr/share/xrm-gateway/mosquitto/xrm-gateway.conf)
[[ -f $plugin ]] || fail "the snippet's plugin $plugin does not exist (multiarch $multiarch)"
ok "Mosquitto snippet names an existing plugin: $plugin"

# The shipped configuration is refused, naming what is missing.
if out=$(xrm-gatewayd --check-config 2>&1); then fail "the shipped configuration passed --check-config"; else rc=$?; fi
[[ $rc -eq 2 ]] || fail "--check-config exited $rc, not 2: $out"
grep -q "gateway.id" <<<"$out" || fail "--check-config did not name gateway.id: $out"
ok "shipped configuration refused with exit 2: $(head -n1 <<<"$out")"

# README.Debian, step 1: the local broker (the snippet, on a free loopback port).
sh -c 'umask 077; head -c 24 /dev/urandom | base64 > /etc/xrm-gateway/local.secret'
chown xrm-gateway: /etc/xrm-gateway/local.secret
mosquitto_ctrl dynsec init /var/lib/mosquitto/dynamic-security.json xrm-gateway \
  "$(head -n1 /etc/xrm-gateway/local.secret)" >/dev/null
chown mosquitto: /var/lib/mosquitto/dynamic-security.json
sed "s/^listener 1883$/listener $port 127.0.0.1/" /usr/share/xrm-gateway/mosquitto/xrm-gateway.conf \
  > /etc/mosquitto/conf.d/xrm-gateway.conf
grep -q "^listener $port 127.0.0.1$" /etc/mosquitto/conf.d/xrm-gateway.conf || fail "snippet has no 'listener 1883'"
# Debian's mosquitto.conf: log in /var/log/mosquitto, pid file in /run/mosquitto (systemd's
# RuntimeDirectory in mosquitto.service; made here by hand).
install -d -o mosquitto -g mosquitto /run/mosquitto /var/log/mosquitto
mosquitto -c /etc/mosquitto/mosquitto.conf > /tmp/mosquitto.log 2>&1 & pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null \
  || fail "Mosquitto does not listen on $port: $(cat /tmp/mosquitto.log /var/log/mosquitto/mosquitto.log 2>&1)"
ok "Mosquitto with the snippet and dynamic security listens on 127.0.0.1:$port"

# Step 2: gateway.id and upstream.url (central is unreachable here: the daemon keeps retrying it).
sed -i -e 's/^# id = .*/id = "gw-pkg-test"/' -e 's|^# url = "ssl://central.*|url = "tcp://127.0.0.1:9"|' \
  /etc/xrm-gateway/gateway.toml
sed -i "s|^url = \"tcp://127.0.0.1:1883\"|url = \"tcp://127.0.0.1:$port\"|" /etc/xrm-gateway/gateway.toml
xrm-gatewayd --check-config >/dev/null || fail "completed configuration refused: $(xrm-gatewayd --check-config 2>&1)"
ok "completed configuration accepted"
# What systemd's RuntimeDirectory= and StateDirectory= would make.
install -d -o xrm-gateway -g xrm-gateway -m 0750 /run/xrm-gateway /var/lib/xrm-gateway
setpriv --reuid=xrm-gateway --regid=xrm-gateway --init-groups -- \
  xrm-gatewayd --config /etc/xrm-gateway/gateway.toml > /tmp/gatewayd.log 2>&1 & pids+=($!)
for _ in $(seq 100); do [[ -S /run/xrm-gateway/control.sock ]] && break; sleep 0.1; done
[[ -S /run/xrm-gateway/control.sock ]] || fail "no control socket after 10 s; log: $(cat /tmp/gatewayd.log)"
perm=$(stat -c '%a %U %G' /run/xrm-gateway/control.sock)
[[ $perm == "660 xrm-gateway xrm-gateway" ]] || fail "control socket is $perm"
ok "daemon runs as xrm-gateway; control socket $perm"

# Step 3: a technician in the group provisions a device; someone outside the group cannot.
useradd --create-home --groups xrm-gateway tom
useradd --create-home eve
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"; }
# At its first connection the daemon grants itself its broker role, and Mosquitto then drops the
# connection once (operations.md): provision after that reconnect, as a technician would.
for _ in $(seq 100); do grep -q "gave the gateway the broker role" /tmp/gatewayd.log && break; sleep 0.1; done
grep -q "gave the gateway the broker role" /tmp/gatewayd.log || fail "no role self-grant in 10 s: $(cat /tmp/gatewayd.log)"
for _ in $(seq 100); do
  as tom xrmctl --json status 2>/dev/null | tr -d ' \n' | grep -q '"local":{"connected":true' && break; sleep 0.1
done
sleep 0.5
out=$(as tom xrmctl --json provision pump-1 --class chiller --owner acme 2>&1) || true
grep -q '"password"' <<<"$out" || fail "technician's provision failed: $out; log: $(cat /tmp/gatewayd.log)"
ok "technician tom (group xrm-gateway) provisioned pump-1"
if out=$(as eve xrmctl devices 2>&1); then fail "eve (not in the group) used xrmctl: $out"; fi
grep -qi "permission denied" <<<"$out" || fail "eve was refused, but not by permissions: $out"
ok "eve (not in the group) refused: $out"
devices=$(as tom xrmctl devices)
grep -q "pump-1" <<<"$devices" || fail "pump-1 not listed: $devices"
ok "xrmctl devices lists pump-1"
[[ $(stat -c '%a %U' /var/lib/xrm-gateway/gateway.db) == "600 xrm-gateway" ]] \
  || fail "database is $(stat -c '%a %U' /var/lib/xrm-gateway/gateway.db)"
ok "database 0600 xrm-gateway"

