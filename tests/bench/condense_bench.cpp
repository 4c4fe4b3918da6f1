// xrm-bench-condense: the condensation ratio. N devices each send one telemetry message a second
// (a JSON payload of about 55 bytes with three metrics, decoded by the real decoder) for some simulated
// minutes; the condenser turns each device's minute into one summary record in a real outbox.
// Prints messages and bytes in, records and bytes out, and the ratios (targets: >= 20:1 messages,
// >= 10:1 bytes at 1 message/s/device and a 60 s window), and the CPU cost per message against a
// baseline in the same run (decoding alone). Prints figures; asserts nothing.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_report.hpp"
#include "xrm/common/clock.hpp"
#include "xrm/condense/condenser.hpp"
#include "xrm/ingest/decode.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/registry/registry.hpp"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

std::string payload(std::uint32_t seq, double temp) {
  char buf[96];
  // About 55 bytes: {"seq":123,"temp_c":4.25,"pressure_bar":1.013,"door":0}
  std::snprintf(buf, sizeof buf, R"({"seq":%u,"temp_c":%.2f,"pressure_bar":1.013,"door":0})", seq, temp);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xrm-bench-condense: condensation ratio at 1 message/s/device"};
  int devices = 1000;
  int minutes = 5;
  int window_s = 60;
  app.add_option("--devices", devices, "Devices")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--minutes", minutes, "Simulated minutes")->check(CLI::Range(1, 120))->capture_default_str();
  app.add_option("--window", window_s, "condense.window in seconds")->check(CLI::Range(1, 3600))->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  char tmpl[] = "/tmp/xrm-bench-condense-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string root = tmpl;
  xrm::FakeClock clock(std::chrono::system_clock::time_point{std::chrono::milliseconds{1'800'000'040'000 - 1'800'000'040'000 % 60'000}});
  auto db = xrm::store::Database::open(root, xrm::store::Database::Sync::kNormal);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.status().message().c_str());
    return 1;
  }
  xrm::store::GatewayState state(**db);
  xrm::outbox::Outbox outbox(**db, state, "gw-bench", clock);
  xrm::registry::Registry registry(**db, outbox, clock);
  if (!registry.load()) return 1;
  std::vector<std::string> ids;
  for (int i = 0; i < devices; ++i) {
    ids.push_back("dev-" + std::to_string(i));
    if (!registry.add(ids.back(), "chiller", {"acme", "plant-a", "tom", "coolco", "CH-200"}, "bench")) return 1;
  }
  const std::uint64_t records_before = outbox.appended_records();
  const std::uint64_t bytes_before = outbox.appended_bytes();

  xrm::ingest::PayloadDecoder decoder{xrm::ingest::DecodeLimits{}};
  xrm::condense::Condenser condenser(**db, outbox, clock, std::chrono::seconds(window_s));
  std::vector<xrm::ingest::DeviceIngest> ingest(static_cast<std::size_t>(devices));
  xrm::ingest::TelemetrySample sample;
  std::uint64_t messages = 0;
  std::uint64_t bytes_in = 0;
  double condense_s = 0;
  double decode_s = 0;

  for (int second = 0; second < minutes * 60; ++second) {
    for (int d = 0; d < devices; ++d) {
      const std::string p = payload(static_cast<std::uint32_t>(second + 1), 4.0 + (second % 7) * 0.25);
      const auto t0 = SteadyClock::now();
      if (!decoder.decode_telemetry(p, sample)) return 1;
      const auto t1 = SteadyClock::now();
      sample.bytes = p.size();
      auto& in = ingest[static_cast<std::size_t>(d)];
      in.telemetry.note(sample.seq);
      condenser.on_telemetry(*registry.find(ids[static_cast<std::size_t>(d)]), sample, in);
      const auto t2 = SteadyClock::now();
      decode_s += std::chrono::duration<double>(t1 - t0).count();
      condense_s += std::chrono::duration<double>(t2 - t1).count();
      ++messages;
      bytes_in += p.size();
    }
    clock.advance(1s);
    const auto t0 = SteadyClock::now();
    if (!condenser.tick()) return 1;
    condense_s += std::chrono::duration<double>(SteadyClock::now() - t0).count();
  }
  if (!condenser.flush_all()) return 1;
  const std::uint64_t records = outbox.appended_records() - records_before;
  const std::uint64_t bytes_out = outbox.appended_bytes() - bytes_before;

  std::printf("xrm-bench-condense: %d devices x 1 message/s x %d min, window %d s, ~55-byte JSON with 3 metrics\n",
              devices, minutes, window_s);
  std::printf("  in:    %llu messages, %llu bytes\n", static_cast<unsigned long long>(messages),
              static_cast<unsigned long long>(bytes_in));
  std::printf("  out:   %llu summary records, %llu bytes (%.0f bytes per record)\n",
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes_out),
              records > 0 ? static_cast<double>(bytes_out) / static_cast<double>(records) : 0.0);
  std::printf("  ratio: %.1f:1 messages (target >= 20:1), %.1f:1 bytes (target >= 10:1)\n",
              records > 0 ? static_cast<double>(messages) / static_cast<double>(records) : 0.0,
              bytes_out > 0 ? static_cast<double>(bytes_in) / static_cast<double>(bytes_out) : 0.0);
  std::printf("  cost:  condense %.0f ns/message (windows, ticks and the summaries' SQLite writes) against "
              "decoding alone %.0f ns/message in the same run: ratio %.2f\n",
              1e9 * condense_s / static_cast<double>(messages), 1e9 * decode_s / static_cast<double>(messages),
              decode_s > 0 ? condense_s / decode_s : 0.0);
  const double msg_ratio = records > 0 ? static_cast<double>(messages) / static_cast<double>(records) : 0.0;
  const double byte_ratio = bytes_out > 0 ? static_cast<double>(bytes_in) / static_cast<double>(bytes_out) : 0.0;
  const std::string shape = "at 1 msg/s/device, " + std::to_string(window_s) + " s windows";
  xrm::bench::report({.name = "condense.message_ratio",
                      .label = "condensation: messages in per record out " + shape,
                      .value = msg_ratio,
                      .unit = ":1",
                      .target = xrm::bench::Target{">=", 20}});
  xrm::bench::report({.name = "condense.byte_ratio",
                      .label = "condensation: bytes in per byte out " + shape,
                      .value = byte_ratio,
                      .unit = ":1",
                      .target = xrm::bench::Target{">=", 10}});
  xrm::bench::report({.name = "condense.cost",
                      .label = "condensation cost per message (windows, ticks, SQLite writes)",
                      .value = 1e9 * condense_s / static_cast<double>(messages),
                      .unit = "ns",
                      .baseline = 1e9 * decode_s / static_cast<double>(messages),
                      .baseline_label = "decoding the same messages alone",
                      .ratio = decode_s > 0 ? condense_s / decode_s : 0.0});
  std::filesystem::remove_all(root);
  return 0;
}
