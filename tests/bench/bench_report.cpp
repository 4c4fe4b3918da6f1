#include "bench_report.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace xrm::bench {

bool meets(double value, const Target& target) {
  if (target.op == ">=") return value >= target.value;
  if (target.op == "<=") return value <= target.value;
  throw std::invalid_argument("bench target: unknown operator '" + target.op + "' (>= or <=)");
}

void report(const Figure& f) {
  nlohmann::json j = {{"name", f.name}, {"label", f.label}, {"value", f.value}, {"unit", f.unit}};
  if (f.baseline) {
    j["baseline"] = *f.baseline;
    j["baseline_label"] = f.baseline_label;
  }
  if (f.ratio) j["ratio"] = *f.ratio;
  if (f.target) {
    j["target"] = {{"op", f.target->op}, {"value", f.target->value}};
    j["met"] = meets(f.value, *f.target);
  }
  std::printf("figure: %s = %.6g %s", f.name.c_str(), f.value, f.unit.c_str());
  if (f.baseline) std::printf(" (baseline %.6g, ratio %.3f)", *f.baseline, f.ratio.value_or(0));
  if (f.target)
    std::printf(" target %s %g: %s", f.target->op.c_str(), f.target->value,
                meets(f.value, *f.target) ? "met" : "NOT met");
  std::printf("\n");
  std::fflush(stdout);

  const char* path = std::getenv("XRM_BENCH_JSON");
  if (path == nullptr || *path == '\0') return;
  std::ofstream out(path, std::ios::app);
  out << j.dump() << '\n';
  out.flush();
  if (!out) throw std::runtime_error(std::string("cannot append to XRM_BENCH_JSON=") + path);
}

}  // namespace xrm::bench
