// xrm-bench-drain: how fast the uplink empties a backlog. An outbox (real SQLite, WAL,
// synchronous=FULL as in the daemon) is filled with N records of a realistic mix (80 % summaries of
// about 220 bytes, 20 % events of about 150 bytes), then the real RecordDrain sends them through the
// real mqtt_link::Connection to a real Mosquitto on a loopback port, deleting each batch's rows on
// its PUBACK, until the outbox is empty. A central subscriber takes every batch off the broker.
//
// Baseline, in the same run against the same broker and subscriber: a bare Paho C++ client
// publishing the same number of RecordBatch payloads of the same sizes at QoS 1 with the same
// in-flight window (4), nothing read from or deleted in SQLite. The ratio drain/bare says what the
// outbox costs. Prints records/s, batches/s, the ratio and the daemon-side CPU; asserts nothing
// (target: >= 20,000 records/s for a 100,000-record backlog).
#include <CLI/CLI.hpp>
#include <mqtt/async_client.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "bench_report.hpp"
#include "xrm/common/clock.hpp"
#include "xrm/common/log.hpp"
#include "xrm/mqtt/connection.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"
#include "xrm/testing/mosquitto.hpp"
#include "xrm/testing/real_parts.hpp"
#include "xrm/uplink/record_drain.hpp"

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

double cpu_seconds_self() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

xrm::v1::InteractionRecord make_record(int i) {
  xrm::v1::InteractionRecord r;
  const std::string device = "chiller-" + std::to_string(i % 1000);
  r.set_device_id(device);
  auto* s = r.mutable_stakeholders();
  s->set_owner("acme-foods");
  s->set_site("plant-a");
  s->set_technician("tech-" + std::to_string(i % 17));
  s->set_supplier("coolco");
  s->set_model("CH-200");
  r.set_profile_class("chiller");
  r.set_span_start_ms(1'800'000'000'000 + static_cast<std::uint64_t>(i) * 60'000);
  r.set_span_end_ms(r.span_start_ms() + 60'000);
  if (i % 5 == 4) {
    r.set_kind(xrm::v1::RECORD_KIND_EVENT);
    auto* e = r.mutable_event()->mutable_event();
    e->set_seq(static_cast<std::uint32_t>(i));
    e->set_ts(r.span_start_ms());
    e->set_type("maintenance");
    e->set_technician("tech-3");
    r.mutable_event()->set_received_at_ms(r.span_start_ms() + 12);
  } else {
    r.set_kind(xrm::v1::RECORD_KIND_SUMMARY);
    auto* sum = r.mutable_summary();
    for (const char* metric : {"temp_c", "pressure_bar", "door"}) {
      auto* m = sum->add_metrics();
      m->set_name(metric);
      m->set_count(60);
      m->set_min(3.5);
      m->set_max(6.25);
      m->set_mean(4.8);
      m->set_last(5.0);
    }
    sum->set_messages(60);
  }
  return r;
}

// Counts RecordBatch messages and the records in them, off the broker.
class Central : public mqtt::callback {
 public:
  explicit Central(const std::string& url) : client_(url, "bench-central", mqtt::create_options(MQTTVERSION_5)) {
    client_.set_callback(*this);
    auto opts = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize();
    client_.connect(opts)->wait();
    client_.subscribe("xrm/v1/gw/+/rec/#", 1)->wait();
  }
  ~Central() override {
    try {
      client_.disconnect()->wait();
    } catch (...) {
    }
  }
  std::uint64_t records() const { return records_.load(); }

 private:
  void message_arrived(mqtt::const_message_ptr msg) override {
    xrm::v1::RecordBatch b;
    if (b.ParseFromString(msg->get_payload())) records_ += static_cast<std::uint64_t>(b.records_size());
  }
  mqtt::async_client client_;
  std::atomic<std::uint64_t> records_{0};
};

struct Run {
  double seconds = 0;
  std::uint64_t records = 0;
  std::uint64_t batches = 0;
  double cpu = 0;
};

// The real drain over the real connection: from start() to an empty outbox.
Run drain_run(const std::string& url, const std::string& dir, int n, std::uint64_t& bytes_out) {
  auto db = xrm::store::Database::open(dir);  // synchronous=FULL, as the daemon
  if (!db) throw std::runtime_error(db.status().message());
  xrm::store::GatewayState state(**db);
  xrm::SystemClock clock;
  xrm::outbox::Outbox outbox(**db, state, "gw-bench", clock);
  // The backlog, in transactions of 1000 (how it would pile up during an outage does not matter).
  for (int done = 0; done < n;) {
    const int upto = std::min(n, done + 1000);
    xrm::Status st = (*db)->transaction([&]() -> xrm::Status {
      for (int i = done; i < upto; ++i) {
        auto r = make_record(i);
        auto seq = outbox.append(r);
        if (!seq) return seq.status();
      }
      return xrm::Status::ok();
    });
    if (!st) throw std::runtime_error(st.message());
    done = upto;
  }
  bytes_out = outbox.stats()->bytes;

  boost::asio::io_context io;
  xrm::mqtt_link::ConnectionSettings cs;
  cs.name = "upstream";
  cs.broker.url = url;
  cs.broker.protocol = "5";
  cs.broker.keepalive = 30s;
  cs.broker.reconnect_min = 100ms;
  cs.broker.reconnect_max = 1s;
  cs.broker.connect_timeout = 5s;
  cs.client_id = "bench-drain";
  auto conn = xrm::mqtt_link::Connection::create(io, cs, 1);
  xrm::uplink::RecordDrain::Link link;
  link.publish = [&conn](const std::string& topic, std::string payload, std::function<void(xrm::Status)> done) {
    conn->publish(topic, std::move(payload), 1, false, std::move(done));
  };
  link.connected = [&conn] { return conn->connected(); };
  xrm::uplink::RecordDrain drain(io, outbox, "gw-bench", clock, std::move(link));
  Run run;
  SteadyClock::time_point t0;
  double cpu0 = 0;
  conn->on_connected([&](int, bool) {
    t0 = SteadyClock::now();
    cpu0 = cpu_seconds_self();
    drain.start();
  });
  boost::asio::steady_timer check(io);
  std::function<void()> poll = [&] {
    check.expires_after(2ms);
    check.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      if (drain.running() && drain.counters().records_sent >= static_cast<std::uint64_t>(n) &&
          drain.counters().in_flight_batches == 0) {
        run.seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
        run.cpu = cpu_seconds_self() - cpu0;
        run.records = drain.counters().records_sent;
        run.batches = drain.counters().batches_sent;
        drain.stop();
        conn->stop(2s, [&io] { io.stop(); });
        return;
      }
      poll();
    });
  };
  poll();
  conn->start();
  io.run_for(300s);
  const auto left = outbox.stats();
  if (!left || left->records != 0) throw std::runtime_error("the outbox did not empty");
  return run;
}

// The baseline: the same payload sizes as RecordBatches of 100, QoS 1, 4 in flight, no SQLite.
Run bare_run(const std::string& url, int n) {
  std::vector<std::string> payloads;
  std::vector<std::string> topics;
  xrm::v1::RecordBatch batch;
  xrm::v1::RecordKind kind = xrm::v1::RECORD_KIND_UNSPECIFIED;
  auto flush = [&] {
    if (batch.records_size() == 0) return;
    batch.set_gateway_id("gw-bare");
    batch.set_kind(kind);
    payloads.push_back(batch.SerializeAsString());
    topics.push_back(std::string("xrm/v1/gw/gw-bare/rec/") + (kind == xrm::v1::RECORD_KIND_EVENT ? "event" : "summary"));
    batch.Clear();
  };
  // The same batches as the drain makes: the critical lane (events) first, then the bulk lane
  // (summaries), 100 records of one kind per batch.
  for (const auto lane_kind : {xrm::v1::RECORD_KIND_EVENT, xrm::v1::RECORD_KIND_SUMMARY}) {
    for (int i = 0; i < n; ++i) {
      auto r = make_record(i);
      if (r.kind() != lane_kind) continue;
      r.set_gateway_id("gw-bare");
      r.set_seq(static_cast<std::uint64_t>(i + 1));
      r.set_created_at_ms(1'800'000'000'000);
      if (r.kind() != kind || batch.records_size() == 100) flush();
      kind = r.kind();
      *batch.add_records() = std::move(r);
    }
  }
  flush();

  mqtt::async_client client(url, "bench-bare", mqtt::create_options(MQTTVERSION_5));
  client.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize())->wait();
  // A window of 4 batches kept full from Paho's callbacks (no thread hand-off per batch), as the
  // drain keeps 4 in flight.
  struct Window : mqtt::iaction_listener {
    mqtt::async_client* client = nullptr;
    const std::vector<std::string>* payloads = nullptr;
    const std::vector<std::string>* topics = nullptr;
    std::mutex m;
    std::condition_variable cv;
    std::size_t next = 0;
    std::size_t acked = 0;
    bool failed = false;
    void send_next() {
      std::size_t i;
      {
        std::lock_guard<std::mutex> lock(m);
        if (next >= payloads->size()) return;
        i = next++;
      }
      client->publish(mqtt::make_message((*topics)[i], (*payloads)[i], 1, false), nullptr, *this);
    }
    void on_success(const mqtt::token&) override {
      {
        std::lock_guard<std::mutex> lock(m);
        ++acked;
      }
      cv.notify_all();
      send_next();
    }
    void on_failure(const mqtt::token&) override {
      {
        std::lock_guard<std::mutex> lock(m);
        failed = true;
      }
      cv.notify_all();
    }
  } window;
  window.client = &client;
  window.payloads = &payloads;
  window.topics = &topics;
  Run run;
  const auto t0 = SteadyClock::now();
  const double cpu0 = cpu_seconds_self();
  for (int i = 0; i < 4; ++i) window.send_next();
  {
    std::unique_lock<std::mutex> lock(window.m);
    window.cv.wait_for(lock, 300s, [&] { return window.failed || window.acked == payloads.size(); });
    if (window.failed) throw std::runtime_error("bare publisher: a publish failed");
  }
  run.seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  run.cpu = cpu_seconds_self() - cpu0;
  run.records = static_cast<std::uint64_t>(n);
  run.batches = payloads.size();
  client.disconnect()->wait();
  return run;
}

// What committing a record costs: Outbox::append outside a transaction (how critical records are
// written: one fsync'd transaction each) and inside one of 100 (how a tick's summaries are
// written), against a bare SQLite INSERT of the same bytes into a plain table of the same file,
// one transaction each, same pragmas (WAL, synchronous=FULL). Microseconds per record.
struct CommitCost {
  double single_us = 0;
  double batched_us = 0;
  double bare_single_us = 0;
};

CommitCost commit_cost(const std::string& dir, int n) {
  CommitCost c;
  auto db = xrm::store::Database::open(dir);  // synchronous=FULL, as the daemon
  if (!db) throw std::runtime_error(db.status().message());
  xrm::store::GatewayState state(**db);
  xrm::SystemClock clock;
  xrm::outbox::Outbox outbox(**db, state, "gw-bench", clock);
  auto t0 = SteadyClock::now();
  for (int i = 0; i < n; ++i) {
    auto rec = make_record(i);
    if (auto seq = outbox.append(rec); !seq) throw std::runtime_error(seq.status().message());
  }
  c.single_us = std::chrono::duration<double, std::micro>(SteadyClock::now() - t0).count() / n;
  t0 = SteadyClock::now();
  for (int done = 0; done < n; done += 100) {
    xrm::Status st = (*db)->transaction([&]() -> xrm::Status {
      for (int i = done; i < std::min(n, done + 100); ++i) {
        auto rec = make_record(i);
        if (auto seq = outbox.append(rec); !seq) return seq.status();
      }
      return xrm::Status::ok();
    });
    if (!st) throw std::runtime_error(st.message());
  }
  c.batched_us = std::chrono::duration<double, std::micro>(SteadyClock::now() - t0).count() / n;

  // The bare baseline: its own connection to a file next to the outbox's, same pragmas.
  sqlite3* raw = nullptr;
  const std::string path = dir + "/bare.db";
  if (sqlite3_open(path.c_str(), &raw) != SQLITE_OK) throw std::runtime_error("sqlite3_open " + path);
  auto exec = [&](const char* sql) {
    if (sqlite3_exec(raw, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("bare sqlite: ") + sqlite3_errmsg(raw));
  };
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE bare(seq INTEGER PRIMARY KEY, body BLOB)");
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(raw, "INSERT INTO bare(body) VALUES(?)", -1, &ins, nullptr);
  t0 = SteadyClock::now();
  for (int i = 0; i < n; ++i) {
    const std::string body = make_record(i).SerializeAsString();
    sqlite3_bind_blob(ins, 1, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(ins) != SQLITE_DONE) throw std::runtime_error(std::string("bare insert: ") + sqlite3_errmsg(raw));
    sqlite3_reset(ins);
  }
  c.bare_single_us = std::chrono::duration<double, std::micro>(SteadyClock::now() - t0).count() / n;
  sqlite3_finalize(ins);
  sqlite3_close(raw);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xrm-bench-drain: drain rate of an outbox backlog to a local Mosquitto"};
  int records = 100000;
  int rounds = 3;
  app.add_option("--records", records, "Backlog size")->check(CLI::Range(100, 10'000'000))->capture_default_str();
  app.add_option("--rounds", rounds, "Rounds of each kind (alternating; medians printed)")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (std::getenv("XRM_BENCH_DEBUG") != nullptr) xrm::log::set_level(xrm::log::Level::kDebug);

  try {
    xrm::testing::Mosquitto broker(xrm::testing::mosquitto_tools(), xrm::testing::Mosquitto::Flavour::kPlain, "bench");
    broker.add_config("max_queued_messages 0\nmax_inflight_messages 0\n");
    broker.start();
    Central central(broker.url());
    std::vector<double> drain_rates, bare_rates, drain_cpu, bare_cpu;
    std::uint64_t bytes = 0;
    for (int round = 0; round < rounds; ++round) {
      char tmpl[] = "/tmp/xrm-bench-drain-XXXXXX";
      if (mkdtemp(tmpl) == nullptr) return 1;
      const std::string dir = tmpl;
      const std::uint64_t before = central.records();
      Run d = drain_run(broker.url(), dir, records, bytes);
      std::filesystem::remove_all(dir);
      Run b = bare_run(broker.url(), records);
      drain_rates.push_back(static_cast<double>(d.records) / d.seconds);
      bare_rates.push_back(static_cast<double>(b.records) / b.seconds);
      drain_cpu.push_back(d.cpu / static_cast<double>(d.records) * 1e6);
      bare_cpu.push_back(b.cpu / static_cast<double>(b.records) * 1e6);
      std::printf("round %d: drain %.0f records/s (%llu batches, %.2f s, %.2f us CPU/record), bare %.0f records/s "
                  "(%.2f s, %.2f us CPU/record); central got %llu\n",
                  round + 1, drain_rates.back(), static_cast<unsigned long long>(d.batches), d.seconds,
                  drain_cpu.back(), bare_rates.back(), b.seconds, bare_cpu.back(),
                  static_cast<unsigned long long>(central.records() - before));
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    const double dr = median(drain_rates), br = median(bare_rates);
    std::printf("\nbacklog: %d records, %llu bytes stored (%.0f B/record)\n", records,
                static_cast<unsigned long long>(bytes), static_cast<double>(bytes) / records);
    std::printf("drain (outbox -> RecordDrain -> Mosquitto, delete on PUBACK): %.0f records/s (median of %d), %.2f us CPU/record\n",
                dr, rounds, median(drain_cpu));
    std::printf("bare Paho publisher, same batches, no SQLite:               %.0f records/s, %.2f us CPU/record\n", br,
                median(bare_cpu));
    std::printf("ratio drain/bare: %.2f   target >= 20000 records/s: %s\n", dr / br, dr >= 20000 ? "met" : "NOT met");
    xrm::bench::report({.name = "drain.rate",
                        .label = "outbox drain after an outage, " + std::to_string(records) + "-record backlog",
                        .value = dr,
                        .unit = "records/s",
                        .baseline = br,
                        .baseline_label = "bare Paho publisher of the same batches, no SQLite",
                        .ratio = dr / br,
                        .target = xrm::bench::Target{">=", 20000}});

    char tmpl[] = "/tmp/xrm-bench-commit-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    const int n = std::min(1000, records);
    const CommitCost cc = commit_cost(tmpl, n);
    std::filesystem::remove_all(tmpl);
    std::printf("commit cost per record (%d records, synchronous=FULL): %.1f us alone, %.1f us in transactions of 100; "
                "bare SQLite INSERT alone %.1f us\n",
                n, cc.single_us, cc.batched_us, cc.bare_single_us);
    xrm::bench::report({.name = "outbox.commit_single",
                        .label = "outbox commit cost per record, one transaction each (critical records)",
                        .value = cc.single_us,
                        .unit = "us",
                        .baseline = cc.bare_single_us,
                        .baseline_label = "bare SQLite INSERT of the same bytes, one transaction each, same pragmas",
                        .ratio = cc.single_us / cc.bare_single_us});
    xrm::bench::report({.name = "outbox.commit_batched",
                        .label = "outbox commit cost per record, transactions of 100 (a tick's summaries)",
                        .value = cc.batched_us,
                        .unit = "us",
                        .baseline = cc.bare_single_us,
                        .baseline_label = "bare SQLite INSERT, one transaction each",
                        .ratio = cc.batched_us / cc.bare_single_us});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xrm-bench-drain: %s\n", e.what());
    return 1;
  }
  return 0;
}
