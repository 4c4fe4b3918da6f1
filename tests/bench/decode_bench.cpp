// Device payload decoding, the ingest stage's hot path: ns per message and heap allocations per
// message for xrm::ingest::PayloadDecoder (RapidJSON SAX in place, and protobuf lite) on a typical
// 60-byte telemetry payload, next to a baseline measured in the same run: nlohmann::json::parse
// into a DOM and the same fields extracted into the same TelemetrySample. Prints figures; asserts
// nothing. No broker, no daemon.
//
// Allocations are counted by replacing the global operator new (every C++ allocation) and malloc
// itself (which also sees C code such as RapidJSON's CrtAllocator), in this program only.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bench_report.hpp"
#include "xrm/ingest/decode.hpp"
#include "xrm/proto/xrm.pb.h"

// ---------------------------------------------------------------------------------------------
// Allocation counters.

namespace {
std::atomic<std::uint64_t> g_new_calls{0};
std::atomic<std::uint64_t> g_malloc_calls{0};
}  // namespace

extern "C" {
// glibc's own allocator entry points, which the replacements below forward to.
// NOLINTBEGIN(bugprone-reserved-identifier,readability-identifier-naming)
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
// NOLINTEND(bugprone-reserved-identifier,readability-identifier-naming)

// glibc lets a program interpose malloc; free stays glibc's, which these blocks belong to.
void* malloc(std::size_t size) noexcept {
  g_malloc_calls.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
  g_malloc_calls.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) noexcept {
  g_malloc_calls.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, size);
}
}

namespace {
void* counted_new(std::size_t size) {
  g_new_calls.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* counted_new_aligned(std::size_t size, std::align_val_t align) {
  g_new_calls.fetch_add(1, std::memory_order_relaxed);
  const auto a = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(a, (std::max<std::size_t>(size, 1) + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) { return counted_new(size); }
void* operator new[](std::size_t size) { return counted_new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_new_calls.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  g_new_calls.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new(std::size_t size, std::align_val_t align) { return counted_new_aligned(size, align); }
void* operator new[](std::size_t size, std::align_val_t align) { return counted_new_aligned(size, align); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

// ---------------------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;
using xrm::ingest::PayloadDecoder;
using xrm::ingest::TelemetrySample;

// The baseline: nlohmann::json's DOM, then the same rules as PayloadDecoder's (seq an unsigned
// integer below 2^32, ts unsigned, numbers and booleans as metrics, anything else ignored). The
// document lives in `doc` until the next call, so names can point into it like the decoder's.
bool nlohmann_decode(std::string_view payload, nlohmann::json& doc, TelemetrySample& out) {
  out.seq = 0;
  out.ts_ms = 0;
  out.metrics.clear();
  out.ignored_fields = 0;
  doc = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return false;
  bool has_seq = false;
  for (const auto& [key, value] : doc.items()) {
    if (key == "seq") {
      if (!value.is_number_unsigned() || value.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
        return false;
      }
      out.seq = static_cast<std::uint32_t>(value.get<std::uint64_t>());
      has_seq = true;
    } else if (key == "ts") {
      if (!value.is_number_unsigned()) return false;
      out.ts_ms = value.get<std::uint64_t>();
    } else if (value.is_number()) {
      const double d = value.get<double>();
      if (key.empty() || !std::isfinite(d)) return false;
      out.metrics.push_back({key, d});
    } else if (value.is_boolean()) {
      out.metrics.push_back({key, value.get<bool>() ? 1.0 : 0.0});
    } else {
      ++out.ignored_fields;
    }
  }
  return has_seq;
}

struct Figure {
  double best_ns = std::numeric_limits<double>::infinity();  // per message, best round
  double new_per_msg = 0;                                    // operator new calls per message
  double malloc_per_msg = 0;                                 // malloc calls (incl. new) per message
  std::uint64_t checksum = 0;
};

// Runs `decode` n times after a warm-up (which lets reused buffers grow), keeps the best round.
template <class Decode>
void measure(Figure& f, std::uint64_t n, Decode&& decode) {
  for (int i = 0; i < 1000; ++i) f.checksum += decode();
  const auto new0 = g_new_calls.load();
  const auto malloc0 = g_malloc_calls.load();
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) f.checksum += decode();
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  f.best_ns = std::min(f.best_ns, ns / static_cast<double>(n));
  f.new_per_msg = static_cast<double>(g_new_calls.load() - new0) / static_cast<double>(n);
  f.malloc_per_msg = static_cast<double>(g_malloc_calls.load() - malloc0) / static_cast<double>(n);
}

std::uint64_t digest(const TelemetrySample& s) {
  std::uint64_t h = s.seq + s.ts_ms + s.metrics.size();
  for (const auto& m : s.metrics) h += static_cast<std::uint64_t>(m.value * 4) + m.name.size();
  return h;
}

void print(const char* what, std::size_t bytes, const Figure& f) {
  std::printf("  %-44s %4zu B %9.1f ns/msg %12.0f msg/s %6.2f new/msg %6.2f malloc/msg\n", what, bytes, f.best_ns,
              1e9 / f.best_ns, f.new_per_msg, f.malloc_per_msg);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Device payload decoding: PayloadDecoder against nlohmann::json, ns and allocations per message"};
  std::uint64_t iterations = 2'000'000;
  int rounds = 3;
  app.add_option("--iterations", iterations, "decodes per round and payload")->capture_default_str();
  app.add_option("--rounds", rounds, "rounds; the best is reported")->capture_default_str()->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  const std::string json = R"({"seq":123456,"ts":1763900000000,"temp_c":4.25,"door":0})";
  // The same reading as a device printing shortest round-trip doubles (Python, JavaScript) sends it.
  const std::string json17 = R"({"seq":123456,"ts":1763900000000,"temp_c":4.2500000000000009,"door":0})";
  xrm::v1::Telemetry t;
  t.set_seq(123456);
  t.set_ts(1763900000000ULL);
  for (const auto& [name, value] : {std::pair<const char*, double>{"temp_c", 4.25}, {"door", 0}}) {
    auto* m = t.add_metrics();
    m->set_name(name);
    m->set_value(value);
  }
  const std::string proto = t.SerializeAsString();
  const std::string event =
      R"({"seq":77,"ts":1763900000000,"type":"service_done","technician":"tom","request_id":"R-7"})";

  PayloadDecoder decoder;
  TelemetrySample sample;
  nlohmann::json doc;
  xrm::v1::ServiceEvent ev;
  std::uint32_t ignored = 0;
  // Every path must accept its payload, or the figures mean nothing.
  if (!decoder.decode_telemetry(json, sample) || !decoder.decode_telemetry(json17, sample) ||
      !decoder.decode_telemetry(proto, sample) || !nlohmann_decode(json, doc, sample) ||
      !decoder.decode_event(event, ev, ignored)) {
    std::fprintf(stderr, "a payload was refused\n");
    return 1;
  }

  Figure rapid, rapid17, nlohmann, pb, evt;
  for (int r = 0; r < rounds; ++r) {  // interleaved, so drift on a shared machine hits all alike
    measure(rapid, iterations, [&] {
      (void)decoder.decode_telemetry(json, sample);
      return digest(sample);
    });
    measure(nlohmann, iterations, [&] {
      (void)nlohmann_decode(json, doc, sample);
      return digest(sample);
    });
    measure(pb, iterations, [&] {
      (void)decoder.decode_telemetry(proto, sample);
      return digest(sample);
    });
    measure(rapid17, iterations, [&] {
      (void)decoder.decode_telemetry(json17, sample);
      return digest(sample);
    });
    measure(evt, iterations / 4, [&] {
      (void)decoder.decode_event(event, ev, ignored);
      return static_cast<std::uint64_t>(ev.seq() + ev.type().size());
    });
  }

  std::printf("xrm-bench-decode: %llu decodes per payload and round, best of %d rounds\n",
              static_cast<unsigned long long>(iterations), rounds);
  std::printf("  payload: %s\n", json.c_str());
  print("PayloadDecoder, JSON (RapidJSON SAX in situ)", json.size(), rapid);
  print("baseline nlohmann::json::parse + extract", json.size(), nlohmann);
  print("PayloadDecoder, protobuf Telemetry", proto.size(), pb);
  print("PayloadDecoder, JSON with 17-digit numbers", json17.size(), rapid17);
  print("PayloadDecoder, JSON service event", event.size(), evt);
  std::printf("  ratio nlohmann / PayloadDecoder JSON: %.2fx (PayloadDecoder JSON / protobuf: %.2fx)\n",
              nlohmann.best_ns / rapid.best_ns, rapid.best_ns / pb.best_ns);
  const std::uint64_t checksum = rapid.checksum + rapid17.checksum + nlohmann.checksum + pb.checksum + evt.checksum;
  std::printf("  (checksum %llu)\n", static_cast<unsigned long long>(checksum));
  xrm::bench::report({.name = "decode.json",
                      .label = "decoding a 56-byte JSON telemetry payload (PayloadDecoder)",
                      .value = rapid.best_ns,
                      .unit = "ns",
                      .baseline = nlohmann.best_ns,
                      .baseline_label = "nlohmann::json parse + extract",
                      .ratio = rapid.best_ns / nlohmann.best_ns});
  xrm::bench::report({.name = "decode.protobuf",
                      .label = "decoding a protobuf Telemetry payload (PayloadDecoder)",
                      .value = pb.best_ns,
                      .unit = "ns",
                      .baseline = nlohmann.best_ns,
                      .baseline_label = "nlohmann::json parse + extract of the JSON form",
                      .ratio = pb.best_ns / nlohmann.best_ns});
  return 0;
}
