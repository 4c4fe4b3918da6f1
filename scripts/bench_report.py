#!/usr/bin/env python3
"""Turns the benchmark suite's figures (JSON lines, one per figure, from tests/bench/bench_report.cpp
and scripts/bench.sh) into the table of docs/performance.md and a JSON document.

Fails (exit 1) when a figure the suite must produce is missing or a line is not a figure, so that
a benchmark that stops reporting is noticed; a missed target is a "no" in the table, not a failure.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

# Every figure the suite produces, in the table's order, by section.
SECTIONS = [
    ("Ingest through a real Mosquitto (1,000 devices, rule, condensation, outbox)", [
        f"ingest.{fmt}.qos{q}.{what}"
        for fmt in ("json", "protobuf") for q in (0, 1) for what in ("ratio", "rate", "cpu_per_message")
    ]),
    ("Latency at half the maximum rate", [
        f"latency.{k}.{p}" for k in ("local_hop", "health", "alert") for p in ("p50", "p99")
    ] + ["latency.unanswered", "latency.rate"]),
    ("Memory, startup and soak", [
        "memory.idle_rss", "memory.idle_rss_anon", "memory.idle_pss", "memory.idle_fleet_rss", "memory.load_rss",
        "memory.soak_growth", "soak.fds_growth", "startup.fleet", "startup.first_contact", "load.rate", "load.cpu_per_message",
    ]),
    ("Condensation", ["condense.message_ratio", "condense.byte_ratio", "condense.cost"]),
    ("Outbox", ["drain.rate", "outbox.commit_single", "outbox.commit_batched"]),
    ("Rule engine, decoding, scorecards, registry", [
        "rules.readings_per_s", "rules.evaluate_per_device", "rules.memory_per_device",
        "decode.json", "decode.protobuf",
        "scorecard.technician", "scorecard.supplier", "scorecard.model", "scorecard.owner", "scorecard.site",
        "registry.list", "registry.provision",
    ]),
    ("ARM: daemon sizes and instructions per message", [
        "size.amd64", "size.aarch64", "size.armhf",
        "instructions.json.amd64", "instructions.json.aarch64", "instructions.idle.amd64", "instructions.idle.aarch64",
    ]),
]
# Produced only where the cross trees exist; required in a full run.
ARM_ONLY = {"size.aarch64", "size.armhf", "instructions.json.aarch64", "instructions.idle.aarch64"}
BEGIN = "<!-- bench-table:begin (scripts/bench.sh writes this part) -->"
END = "<!-- bench-table:end -->"


def read_figures(path):
    figures = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                fig = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"bench_report: {path}:{n}: not JSON: {e}")
            for key in ("name", "label", "value", "unit"):
                if key not in fig:
                    sys.exit(f"bench_report: {path}:{n}: figure without '{key}'")
            figures[fig["name"]] = fig  # a later run of the same figure wins
    return figures


def machine():
    def first(path, key):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip().strip('"')
        except OSError:
            pass
        return "?"
    mem_kb = first("/proc/meminfo", "MemTotal").split()[0]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=False).stdout.strip() or "?"
    except OSError:
        commit = "?"
    return {
        "cpu": first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem_kb) / 1024 / 1024, 1) if mem_kb.isdigit() else None,
        "os": first("/etc/os-release", "PRETTY_NAME"),
        "kernel": platform.release(),
        "commit": commit,
    }


def fmt(v):
    if v is None:
        return ""
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}" if a >= 0.01 else f"{v:.2g}"


def table(figures, names):
    rows = ["| figure | value | baseline (same run) | ratio | target | met |", "| --- | --- | --- | --- | --- | --- |"]
    for name in names:
        f = figures.get(name)
        if f is None:
            continue
        unit = f" {f['unit']}" if f["unit"] else ""
        base = ""
        if "baseline" in f:
            base = f"{fmt(f['baseline'])}{unit} ({f.get('baseline_label', '')})"
        ratio = fmt(f.get("ratio")) if "ratio" in f else ""
        target = f"{f['target']['op']} {fmt(f['target']['value'])}{unit}" if "target" in f else ""
        met = ("yes" if f["met"] else "**no**") if "met" in f else ""
        rows.append(f"| {f['label']} `{name}` | {fmt(f['value'])}{unit} | {base} | {ratio} | {target} | {met} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--figures", required=True)
    ap.add_argument("--mode", choices=["full", "smoke"], required=True)
    ap.add_argument("--json", required=True, help="the JSON document to write")
    ap.add_argument("--markdown", help="a Markdown file whose table between the markers is replaced")
    args = ap.parse_args()

    figures = read_figures(args.figures)
    expected = [n for _, names in SECTIONS for n in names]
    missing = [n for n in expected if n not in figures and not (args.mode == "smoke" and n in ARM_ONLY)]
    if missing:
        sys.exit("bench_report: figures missing from " + args.figures + ": " + ", ".join(missing))
    extra = [n for n in figures if n not in expected]

    now = datetime.datetime.now(datetime.timezone.utc)
    doc = {"date": now.strftime("%Y-%m-%d %H:%M UTC"), "mode": args.mode, "machine": machine(),
           "figures": list(figures.values())}
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

    m = doc["machine"]
    parts = [f"Measured {doc['date']} by `scripts/bench.sh` ({args.mode} sizes) at commit {m['commit']} on "
             f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, kernel {m['kernel']}. "
             "Every ratio is against a baseline measured in the same run; the sections below say how each "
             "figure is made and what limits it."]
    for title, names in SECTIONS:
        parts.append(f"**{title}**\n\n" + table(figures, names))
    if extra:
        parts.append("**Further figures**\n\n" + table(figures, sorted(extra)))
    text = "\n\n".join(parts)
    print(text)

    if args.markdown:
        with open(args.markdown) as f:
            md = f.read()
        if BEGIN not in md or END not in md:
            sys.exit(f"bench_report: {args.markdown} has no table markers ({BEGIN} ... {END})")
        head, rest = md.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        with open(args.markdown, "w") as f:
            f.write(head + BEGIN + "\n" + text + "\n" + END + tail)
    missed = [n for n, f in figures.items() if f.get("met") is False]
    print(f"\n{len(figures)} figures; targets missed: {', '.join(missed) if missed else 'none'}")


if __name__ == "__main__":
    main()
