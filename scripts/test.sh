#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, builds the dev preset
# (Debug, ASan+UBSan) and runs every unit and integration test with ctest, then cross-builds the
# aarch64 preset and runs its unit tests under qemu-aarch64, then the same for armhf (against the
# sysroot build/sysroot-armhf, unit tests under qemu-arm), then builds the Debian packages of all
# three architectures (scripts/packages.sh) and runs the package tests (lintian, dpkg -i in a fresh
# Debian root, systemd-analyze verify), then the libFuzzer targets (fuzz preset, clang) in their
# smoke mode (each about 15 s over its corpus), and last the benchmark suite in its smoke mode.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "dependencies (host + aarch64)"
scripts/deps.sh aarch64

step "dev build"
cmake --preset dev >/dev/null
cmake --build --preset dev

step "dev tests: unit + integration"
ctest --preset dev

step "aarch64 cross build"
cmake --preset aarch64 >/dev/null
cmake --build --preset aarch64
file build/aarch64/gateway/app/xrm-gatewayd

step "aarch64 unit tests under qemu-aarch64"
ctest --preset aarch64

step "dependencies (armhf: cross compiler, qemu, mmdebstrap, sysroot build/sysroot-armhf)"
scripts/deps.sh armhf

step "armhf cross build"
cmake --preset armhf >/dev/null
cmake --build --preset armhf
file build/armhf/gateway/app/xrm-gatewayd

step "armhf unit tests under qemu-arm"
ctest --preset armhf

step "Debian packages: amd64 (release build), arm64, armhf"
scripts/packages.sh

step "package tests: lintian, install in a fresh root, the unit"
ctest --preset packages

step "fuzzers, smoke mode"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
ctest --preset fuzz

step "benchmark suite, smoke mode (tiny sizes: every program runs and reports every figure; no time asserted)"
ctest --preset bench-smoke

step "all tests passed"
