#!/usr/bin/env bash
# The demo: the whole relationship story in about a minute, on loopback, with real parts.
#
#   two Mosquitto brokers on free loopback ports: the local device broker (dynamic security, every
#   device with its own credentials) and an upstream broker standing in for the central XRM;
#   the real xrm-gatewayd between them; xrm-tap as the central XRM's consumer; a technician
#   provisioning 20 devices with their stakeholders (customers, sites, technicians, suppliers);
#   xrm-devsim playing firmware/devsim/scenarios/demo.toml: healthy devices, an overheating
#   chiller, a fault with a service visit, a fault that returns after service, a meter that loses
#   messages, a device that goes silent.
#
# At the end it prints what a person at the gateway and at the centre would look at, stops
# everything and exits 0. Nothing outside a temp dir is touched.
#
#   scripts/demo.sh                   run the story (60 s of devices) and exit
#   scripts/demo.sh --duration 2m     let the devices run longer (a duration: 90s, 2m, ...)
#   scripts/demo.sh --keep            after the story, leave brokers, gateway and devices running
#                                     (for trying xrmctl yourself) until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KEEP=0
DURATION=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep) KEEP=1; shift ;;
    --duration) DURATION=${2:?--duration needs a value, e.g. 90s}; shift 2 ;;
    --duration=*) DURATION=${1#--duration=}; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

scripts/deps.sh
echo "==> building release (the first time takes a few minutes)"
cmake --preset release >/dev/null
cmake --build --preset release --target xrm-gatewayd xrmctl xrm-tap xrm-devsim >/dev/null
BIN=$ROOT/build/release
GATEWAYD=$BIN/gateway/app/xrm-gatewayd
XRMCTL=$BIN/gateway/tools/xrmctl
TAP=$BIN/gateway/tools/xrm-tap
DEVSIM=$BIN/firmware/devsim/xrm-devsim
SCENARIO=$ROOT/firmware/devsim/scenarios/demo.toml
"$DEVSIM" check "$SCENARIO" >/dev/null

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
section() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
indent() { sed 's/^/    /'; }

MULTIARCH=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH)
DYNSEC=/usr/lib/$MULTIARCH/mosquitto_dynamic_security.so
LOCAL_PORT=$(free_port)
UP_PORT=$(free_port)
ADMIN_PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
ME=$(id -un)

section "brokers: local 127.0.0.1:$LOCAL_PORT (dynamic security), upstream (central) 127.0.0.1:$UP_PORT"
mosquitto_ctrl dynsec init "$WORK/dynsec.json" xrm-gateway "$ADMIN_PASS" >/dev/null
# As docs/operations.md says for an installation: the gateway's admin client may also publish
# device commands (escalation `command:NAME`), through the role xrm-gateway-commands.
jq '.roles += [{"rolename": "xrm-gateway-commands",
                "acls": [{"acltype": "publishClientSend", "topic": "xrm/v1/dev/+/cmd/#", "priority": 0, "allow": true}]}]
    | (.clients[] | select(.username == "xrm-gateway") | .roles) += [{"rolename": "xrm-gateway-commands"}]' \
  "$WORK/dynsec.json" >"$WORK/dynsec.json.new" && mv "$WORK/dynsec.json.new" "$WORK/dynsec.json"
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
mosquitto -c "$WORK/local.conf" 2>>"$WORK/local-broker.log" & PIDS+=($!)
mosquitto -c "$WORK/upstream.conf" 2>>"$WORK/upstream-broker.log" & PIDS+=($!)
wait_port "$LOCAL_PORT"
wait_port "$UP_PORT"

umask 077
printf '%s\n' "$ADMIN_PASS" >"$WORK/local.secret"
cp "$ROOT/firmware/devsim/scenarios/demo-profiles.toml" "$WORK/profiles.toml"
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

[control]
socket = "$WORK/control.sock"

[health]
profiles = "$WORK/profiles.toml"
snapshot_interval = "5s"

[condense]
window = "20s"
CONF
"$GATEWAYD" --config "$WORK/gateway.toml" --check-config >/dev/null
echo "    health profiles (firmware/devsim/scenarios/demo-profiles.toml): $("$XRMCTL" rules check "$WORK/profiles.toml")"

section "the central XRM subscribes: xrm-tap --gateway gw-demo (one JSON line per record)"
"$TAP" --url "tcp://127.0.0.1:$UP_PORT" --gateway gw-demo --client-id central-demo \
  >"$WORK/central.jsonl" 2>"$WORK/tap.log" & TAP_PID=$!; PIDS+=($TAP_PID)

section "xrm-gatewayd starts (log: gateway.log)"
"$GATEWAYD" --config "$WORK/gateway.toml" >"$WORK/gateway.log" 2>&1 & GW_PID=$!; PIDS+=($GW_PID)
for _ in $(seq 1 100); do grep -q "status online published" "$WORK/gateway.log" && break; sleep 0.1; done
grep -q "status online published" "$WORK/gateway.log" || { echo "demo: the gateway did not come online" >&2; tail "$WORK/gateway.log" >&2; exit 1; }
echo "    online: local broker connected, upstream connected, status retained at xrm/v1/gw/gw-demo/status"
echo "    control socket: $WORK/control.sock (XRMCTL_SOCKET=$WORK/control.sock xrmctl ... to look yourself)"

export XRMCTL_SOCKET=$WORK/control.sock
section "a technician provisions the fleet: 20 devices, each with its stakeholders and its own broker credentials"
"$DEVSIM" list "$SCENARIO" >"$WORK/devices.tsv"
first=1
while IFS=$'\t' read -r dev cls owner site tech supplier model; do
  args=(provision "$dev" --class "$cls")
  [[ -n "$owner" ]] && args+=(--owner "$owner")
  [[ -n "$site" ]] && args+=(--site "$site")
  [[ -n "$tech" ]] && args+=(--technician "$tech")
  [[ -n "$supplier" ]] && args+=(--supplier "$supplier")
  [[ -n "$model" ]] && args+=(--model "$model")
  "$XRMCTL" --json "${args[@]}" >>"$WORK/credentials.json"
  if [[ $first -eq 1 ]]; then
    echo "    xrmctl ${args[*]}"
    jq -r '"      -> \(.device): client id \(.client_id), broker \(.broker_url), password shown once (not stored)"' \
      <"$WORK/credentials.json"
    echo "    ... and so on for the other devices (xrm-devsim list gives each one's stakeholders)"
    first=0
  fi
done <"$WORK/devices.tsv"
awk -F'\t' '{ d++; c[$3]++; t[$5]++; s[$6]++; si[$4]++ }
  END { printf "    %d devices; customers:", d; for (k in c) printf " %s (%d)", k, c[k];
        printf "\n    sites:"; for (k in si) printf " %s (%d)", k, si[k];
        printf "\n    technicians:"; for (k in t) printf " %s (%d)", k, t[k];
        printf "\n    suppliers:"; for (k in s) printf " %s (%d)", k, s[k]; printf "\n" }' "$WORK/devices.tsv"

section "the devices connect and play the scenario (xrm-devsim, one MQTT connection per device)"
cat <<'STORY' | indent
chiller-1..8, meter-1..7  healthy: the reference
chiller-hot               temperature and power drift up: rules overheat and overload
chiller-fault             fault E17, service request, tech-bob's visit, rated 5/5
chiller-recur             fault E04, visit rated 2/5, and the same fault is back after service
meter-flaky               loses 2 of 5 messages on the way (holes in its sequence numbers)
chiller-silent            stops talking after 10 s
STORY
# The devices keep running while the gateway is inspected; the story is told by then.
STORY_S=60
if [[ -n "$DURATION" ]]; then
  STORY_S=$(awk -v d="$DURATION" 'BEGIN {
    n = d + 0; u = d; sub(/^[0-9.]+/, "", u)
    if (n <= 0 || (u != "" && u != "s" && u != "m")) exit 1
    print int(u == "m" ? n * 60 : n) }') || { echo "demo: --duration $DURATION: use seconds or minutes, e.g. 90s or 2m" >&2; exit 2; }
fi
"$DEVSIM" run "$SCENARIO" --credentials "$WORK/credentials.json" --state-dir "$WORK/devices" \
  --duration "$(( KEEP == 1 ? 86400 : STORY_S + 30 ))s" --progress 10s >"$WORK/devsim.log" 2>&1 & DEVSIM_PID=$!; PIDS+=($DEVSIM_PID)
sleep 0.5  # look just after each of xrm-devsim's progress lines
for (( t = 0; t < STORY_S; t += 10 )); do
  sleep $(( STORY_S - t < 10 ? STORY_S - t : 10 ))
  kill -0 "$DEVSIM_PID" 2>/dev/null || { echo "demo: xrm-devsim stopped early:" >&2; cat "$WORK/devsim.log" >&2; exit 1; }
  tail -n 1 "$WORK/devsim.log" | indent
  echo "$("$XRMCTL" --json status | jq -r '"      gateway: \(.health.by_band // {} | to_entries | map("\(.key) \(.value)") | join(", ")); open alerts \(.health.open_alerts // 0); outbox \(.outbox.depth)"')"
done

section "what the gateway knows: xrmctl devices"
"$XRMCTL" devices | indent

section "why is chiller-hot critical? xrmctl show chiller-hot (the score explains itself)"
"$XRMCTL" show chiller-hot | indent

section "who, in which interactions, with what quality, is creating value? xrmctl rank"
"$XRMCTL" rank --by technician | indent
echo
"$XRMCTL" rank --by supplier | indent

if [[ $KEEP -eq 1 ]]; then
  section "--keep: brokers, gateway and devices keep running (Ctrl-C stops everything)"
  echo "    export XRMCTL_SOCKET=$WORK/control.sock; $XRMCTL devices"
  echo "    mosquitto_sub -p $UP_PORT -t 'xrm/v1/gw/#' -v        # what central receives"
  wait "$DEVSIM_PID" || true
fi

section "the devices stop (xrm-devsim reports), then the gateway (it flushes its open windows upstream)"
kill -TERM "$DEVSIM_PID" 2>/dev/null || true
wait "$DEVSIM_PID" || { echo "demo: xrm-devsim failed:" >&2; cat "$WORK/devsim.log" >&2; exit 1; }
sed -n '/^xrm-devsim: \(done\|interrupted\)/,$p' "$WORK/devsim.log" | indent
kill -TERM "$GW_PID" 2>/dev/null || true
wait "$GW_PID" || { echo "demo: xrm-gatewayd did not stop cleanly:" >&2; tail "$WORK/gateway.log" >&2; exit 1; }
echo "    xrm-gatewayd stopped cleanly"
sleep 1
kill -TERM "$TAP_PID" 2>/dev/null || true
wait "$TAP_PID" 2>/dev/null || true

section "what reached the central XRM (xrm-tap): records by kind"
jq -r '.kind' "$WORK/central.jsonl" | sort | uniq -c | sort -rn | awk '{ printf "    %-10s %5d\n", $2, $1 }'
echo "    ----"
printf '    %-10s %5d records, seqs %s\n' total "$(wc -l <"$WORK/central.jsonl")" \
  "$(jq -s 'map(.seq) | "\(min)..\(max)"' -r "$WORK/central.jsonl")"
grep -E "missing|duplicate" "$WORK/tap.log" | indent || true
echo
echo "    alerts, addressed by their stakeholders:"
jq -r 'select(.kind == "alert") | .alert as $a |
  "      \(.device) \($a.state) \($a.band) \($a.action)" + (if $a.command != "" then " " + $a.command else "" end) +
  (if $a.assignee != "" then " -> " + $a.assignee else "" end) + ": " + $a.reason' "$WORK/central.jsonl"
echo
echo "    service events of chiller-recur (the relationship's history):"
jq -r 'select(.kind == "event" and .device == "chiller-recur") | .event.event |
  "      " + ([.type, .code, (if .technician != "" then "by " + .technician else null end),
               (if .score then "score \(.score)" else null end),
               (if .request_id != "" then "request " + .request_id else null end)] | map(select(. != null)) | join("  "))' \
  "$WORK/central.jsonl"

section "done: brokers stopped, temporary files removed"
