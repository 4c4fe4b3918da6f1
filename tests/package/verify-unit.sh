#!/usr/bin/env bash
# systemd-analyze verify of the installed unit in ROOT (tests/package/install.sh's fresh root, with
# systemd installed there). verify reports unknown keys, bad values and missing programs as
# warnings with exit status 0, so any output at all fails the test.
#
#   tests/package/verify-unit.sh ROOT
set -euo pipefail
root=${1:?usage: verify-unit.sh ROOT}
echo "verify-unit: systemd-analyze verify --root=$root xrm-gatewayd.service"
out=$(systemd-analyze verify --root="$root" --man=no xrm-gatewayd.service 2>&1) || {
  echo "verify-unit: FAIL (exit $?): $out" >&2; exit 1; }
if [[ -n $out ]]; then
  echo "verify-unit: FAIL: $out" >&2
  exit 1
fi
echo "verify-unit: ok"
