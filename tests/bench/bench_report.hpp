#pragma once
// The figures a benchmark reports to the suite (scripts/bench.sh): one JSON object per line,
// appended to the file named by the environment variable XRM_BENCH_JSON (nothing when it is unset,
// so a benchmark run by hand only prints). scripts/bench_report.py turns the lines into the table
// in docs/performance.md and docs/performance.json.
//
// A figure is a value with its unit, and where the benchmark has one, the baseline measured in the
// same run, their ratio, and the target. A missed target is reported, never asserted.
#include <optional>
#include <string>

namespace xrm::bench {

struct Target {
  std::string op;  // ">=" or "<="
  double value = 0;
};

struct Figure {
  std::string name;   // stable key, e.g. "ingest.json.qos0.ratio"
  std::string label;  // what it is, for the table
  double value = 0;
  std::string unit;  // "msg/s", "MB", "ms", "" (a ratio) ...
  std::optional<double> baseline;
  std::string baseline_label;  // what the baseline is
  std::optional<double> ratio;
  std::optional<Target> target;
};

// Whether value meets target (for the table's "met" column and the printed line).
bool meets(double value, const Target& target);

// Appends the figure to $XRM_BENCH_JSON (if set) and prints one "figure:" line on stdout.
// Throws std::runtime_error when the file cannot be written: a suite run must not lose figures.
void report(const Figure& figure);

}  // namespace xrm::bench
