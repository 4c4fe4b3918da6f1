#!/usr/bin/env bash
# Package test: lintian on every package of one architecture in DIR. Fails when there is no
# package, or when lintian reports any error (E:); warnings are printed, and counted.
#
#   tests/package/lintian.sh DIR ARCH
set -euo pipefail
dir=${1:?usage: lintian.sh DIR ARCH}
arch=${2:?usage: lintian.sh DIR ARCH}

shopt -s nullglob
debs=("$dir"/*_"$arch".deb)
if [[ ${#debs[@]} -eq 0 ]]; then
  echo "lintian.sh: no *_$arch.deb in $dir (run scripts/packages.sh $arch)" >&2
  exit 1
fi
command -v lintian >/dev/null || { echo "lintian.sh: lintian missing (scripts/deps.sh packages)" >&2; exit 1; }

status=0
for deb in "${debs[@]}"; do
  report=$(lintian --no-cfg --display-info "$deb" 2>&1) || true
  errors=$(grep -c '^E: ' <<<"$report" || true)
  warnings=$(grep -c '^W: ' <<<"$report" || true)
  infos=$(grep -c '^I: ' <<<"$report" || true)
  printf '%s: %d errors, %d warnings, %d info\n' "$(basename "$deb")" "$errors" "$warnings" "$infos"
  [[ -n $report ]] && sed 's/^/  /' <<<"$report"
  [[ $errors -eq 0 ]] || status=1
done
exit $status
