#!/usr/bin/env bash
# The demo: two real Mosquitto brokers on free loopback ports (the local device broker with the
# dynamic-security plugin, and an upstream broker standing in for the central XRM), the real
# xrm-gatewayd between them, and a central-side view of what the gateway publishes. It tells the
# gateway's presence story (online, retained; an upstream outage and reconnect with a new epoch; a
# clean shutdown) and the technician's story: provisioning a device with its own broker
# credentials, the device connecting with exactly those, relinking, and retiring it. Everything it starts is stopped on exit; nothing outside a temp dir is touched.
#
#   scripts/demo.sh          run the story and exit
#   scripts/demo.sh --keep   leave everything running until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KEEP=0
[[ "${1:-}" == "--keep" ]] && KEEP=1

scripts/deps.sh
echo "==> building release"
cmake --preset release >/dev/null
cmake --build --preset release --target xrm-gatewayd xrmctl >/dev/null
GATEWAYD=$ROOT/build/release/gateway/app/xrm-gatewayd
XRMCTL=$ROOT/build/release/gateway/tools/xrmctl

WORK=$(mktemp -d /tmp/xrm-demo.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -z "${XRM_KEEP_DEMO_DIR:-}" ]]; then rm -rf "$WORK"; else echo "demo files kept in $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {  # a loopback port nobody listens on
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  echo "demo: no free loopback port found" >&2; return 1
}
wait_port() {  # wait_port PORT: until something accepts, 5 s at most
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: nothing listens on 127.0.0.1:$1" >&2; return 1
}

MULTIARCH=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH)
DYNSEC=/usr/lib/$MULTIARCH/mosquitto_dynamic_security.so
LOCAL_PORT=$(free_port)
UP_PORT=$(free_port)
ADMIN_PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
ME=$(id -un)

echo "==> local broker on 127.0.0.1:$LOCAL_PORT (dynamic security), upstream on 127.0.0.1:$UP_PORT"
mosquitto_ctrl dynsec init "$WORK/dynsec.json" xrm-gateway "$ADMIN_PASS" >/dev/null
cat >"$WORK/local.conf" <<CONF
listener $LOCAL_PORT 127.0.0.1
allow_anonymous false
plugin $DYNSEC
plugin_opt_config_file $WORK/dynsec.json
user $ME
log_dest file $WORK/local-broker.log
CONF
cat >"$WORK/upstream.conf" <<CONF
listener $UP_PORT 127.0.0.1
allow_anonymous true
user $ME
log_dest file $WORK/upstream-broker.log
CONF
start_upstream() { mosquitto -c "$WORK/upstream.conf" 2>>"$WORK/upstream-broker.log" & PIDS+=($!); UP_PID=$!; wait_port "$UP_PORT"; }
mosquitto -c "$WORK/local.conf" 2>>"$WORK/local-broker.log" & PIDS+=($!)
wait_port "$LOCAL_PORT"
start_upstream

umask 077
printf '%s\n' "$ADMIN_PASS" >"$WORK/local.secret"
cat >"$WORK/gateway.toml" <<CONF
[gateway]
id = "gw-demo"
site = "plant-a"
data_dir = "$WORK/data"

[local]
url = "tcp://127.0.0.1:$LOCAL_PORT"
username = "xrm-gateway"
password_file = "$WORK/local.secret"
device_url = "tcp://127.0.0.1:$LOCAL_PORT"

[upstream]
url = "tcp://127.0.0.1:$UP_PORT"
reconnect_min = "200ms"
reconnect_max = "2s"
keepalive = "5s"

[control]
socket = "$WORK/control.sock"

[health]
profiles = "$WORK/profiles.toml"
snapshot_interval = "5s"
CONF
# The sample's chiller (docs/examples/profiles.toml) with seconds instead of minutes, so the whole
# story fits in the demo.
cat >"$WORK/profiles.toml" <<'PROFILES'
[[profile]]
class = "chiller"
expected_interval = "2s"
offline_after = "60s"
dwell = "2s"
escalate = { degraded = "alert", critical = "service_request" }

[[profile.rule]]
name = "overheat"
when = "avg(temp_c, 4s) > 8"
for = "2s"
penalty = 40
PROFILES
"$XRMCTL" rules check "$WORK/profiles.toml" | sed 's/^/    /' 
"$GATEWAYD" --config "$WORK/gateway.toml" --check-config

status() {  # the retained GatewayStatus as the central XRM sees it, decoded
  mosquitto_sub -p "$UP_PORT" -t "xrm/v1/gw/gw-demo/status" -C 1 -W 5 -N -F '%p' \
    | protoc --decode=xrm.v1.GatewayStatus -I "$ROOT/common/proto" xrm.proto | sed 's/^/    /'
}

echo "==> starting xrm-gatewayd (log: $WORK/gateway.log)"
"$GATEWAYD" --config "$WORK/gateway.toml" >"$WORK/gateway.log" 2>&1 & GW_PID=$!; PIDS+=($GW_PID)
for _ in $(seq 1 50); do grep -q "status online published" "$WORK/gateway.log" && break; sleep 0.1; done
echo "--- central sees (retained xrm/v1/gw/gw-demo/status):"; status

export XRMCTL_SOCKET=$WORK/control.sock
echo "==> technician: xrmctl provision chiller-7 --class chiller --owner acme --technician tom --supplier coolco --qr"
"$XRMCTL" provision chiller-7 --class chiller --owner acme --technician tom --supplier coolco --model CH-200 --qr \
  | sed 's/^/    /' | tee "$WORK/provision.txt"
DEV_PASS=$(awk '$1 == "password" {print $2; exit}' "$WORK/provision.txt")
echo "==> the device connects with exactly those credentials and reports"
mosquitto_pub -p "$LOCAL_PORT" -i chiller-7 -u chiller-7 -P "$DEV_PASS" -q 1 -r \
  -t xrm/v1/dev/chiller-7/birth -m '{"model":"CH-200","firmware_version":"3.2.1"}'
dev_pub() {  # TOPIC_LEAF PAYLOAD: one message as chiller-7, QoS 1
  mosquitto_pub -p "$LOCAL_PORT" -i chiller-7 -u chiller-7 -P "$DEV_PASS" -q 1 -t "xrm/v1/dev/chiller-7/$1" -m "$2"
}
dev_pub tele '{"seq":1,"ts":'"$(date +%s%3N)"',"temp_c":4.2}'
dev_pub tele '{"seq":2,"ts":'"$(date +%s%3N)"',"temp_c":4.4,"door":false}'
echo "==> telemetry 3 and 4 never arrive (counted as missed), then 5; a fault event; one malformed message"
dev_pub tele '{"seq":5,"ts":'"$(date +%s%3N)"',"temp_c":4.9,"door":true}'
dev_pub evt '{"seq":1,"ts":'"$(date +%s%3N)"',"type":"fault","code":"E42","note":"compressor trips"}'
dev_pub tele '{"seq":6,"temp_c":NaN}'
echo "==> a device may not speak for another: chiller-7 publishing on chiller-8's topic is dropped by the broker"
"$XRMCTL" provision chiller-8 --class chiller --owner acme >/dev/null
mosquitto_pub -p "$LOCAL_PORT" -i chiller-7 -u chiller-7 -P "$DEV_PASS" -q 1 \
  -t xrm/v1/dev/chiller-8/tele -m '{"seq":1,"ts":1,"temp_c":99}' || true
sleep 0.5
echo "--- xrmctl devices"; "$XRMCTL" devices | sed 's/^/    /'
echo "==> relink: the customer changes"; "$XRMCTL" link chiller-7 --owner globex | sed 's/^/    /'
echo "--- xrmctl show chiller-7"; "$XRMCTL" show chiller-7 | sed 's/^/    /'
alert_record() {  # FILE: one RecordBatch from rec/alert, the lines a person reads
  protoc --decode=xrm.v1.RecordBatch -I "$ROOT/common/proto" xrm.proto <"$1" \
    | grep -E '^\s+(device_id|technician|owner|site|alert_id|state|cause|action|reason|assignee):' | sed 's/^ */    /'
}
echo "==> the cold room warms up: temp_c 11.5 (rule overheat: avg(temp_c, 4s) > 8 for 2s, 40 points)"
mosquitto_sub -p "$UP_PORT" -t xrm/v1/gw/gw-demo/rec/alert -C 1 -W 30 -N -F '%p' >"$WORK/alert-opened.bin" & SUB_PID=$!
sleep 0.3
for seq in $(seq 7 22); do dev_pub tele '{"seq":'"$seq"',"temp_c":11.5}'; sleep 0.5; done
wait "$SUB_PID" || true
echo "--- central receives an alert record (rec/alert), addressed by its stakeholders:"
alert_record "$WORK/alert-opened.bin"
echo "--- xrmctl show chiller-7: the score explains itself"
"$XRMCTL" show chiller-7 | sed -n '/^Health/,/^Counters/p' | grep -v '^Counters' | sed 's/^/    /'
echo "==> it cools down to 4.5: the alert clears by itself once the band is healthy again"
mosquitto_sub -p "$UP_PORT" -t xrm/v1/gw/gw-demo/rec/alert -C 1 -W 30 -N -F '%p' >"$WORK/alert-cleared.bin" & SUB_PID=$!
sleep 0.3
for seq in $(seq 23 42); do
  dev_pub tele '{"seq":'"$seq"',"temp_c":4.5}'; sleep 0.5
  [[ -s "$WORK/alert-cleared.bin" ]] && break
done
wait "$SUB_PID" || true
alert_record "$WORK/alert-cleared.bin"
echo "==> retire chiller-8: its credentials are revoked"; "$XRMCTL" retire chiller-8 | sed 's/^/    /'
echo "--- xrmctl status"; "$XRMCTL" status | sed 's/^/    /'
echo "--- xrmctl dead-letters"; "$XRMCTL" dead-letters | sed 's/^/    /'

echo "==> upstream outage: stopping the central broker for 2 s"
kill "$UP_PID"; wait "$UP_PID" 2>/dev/null || true
sleep 2
start_upstream
for _ in $(seq 1 60); do [[ $(grep -c "status online published" "$WORK/gateway.log") -ge 2 ]] && break; sleep 0.1; done
echo "--- after the outage the gateway is back with a higher epoch:"; status

if [[ $KEEP -eq 1 ]]; then
  echo "==> running; watch with: mosquitto_sub -p $UP_PORT -t 'xrm/v1/gw/#' -v -F '%t %x'   (Ctrl-C stops)"
  wait "$GW_PID"
fi

echo "==> SIGTERM: the gateway says goodbye before it goes"
kill -TERM "$GW_PID"; wait "$GW_PID" && echo "    xrm-gatewayd exited 0"
echo "--- central sees (proto3 leaves online: false out of the text form):"; status
echo "--- gateway log:"; sed 's/^/    /' "$WORK/gateway.log"
