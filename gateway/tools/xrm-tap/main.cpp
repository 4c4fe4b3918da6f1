// xrm-tap: the reference central consumer. Subscribes to the records of one gateway or all (through
// a $share group if asked), decodes each RecordBatch, prints one JSON line per record it had not
// seen, reports duplicates and the seqs it never saw, and can send central Acks. One thread: Paho's
// consumer queue, read with bounded waits so --timeout and signals are noticed within 100 ms.
#include <mqtt/async_client.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tap.hpp"
#include "xrm/common/exit_codes.hpp"
#include "xrm/common/topics.hpp"
#include "xrm/common/units.hpp"
#include "xrm/manpage/manpage.hpp"
#include "xrm/proto/xrm.pb.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int /*sig*/) { g_stop = 1; }

constexpr auto kPoll = 100ms;          // how often the loop looks at signals and the deadline
constexpr auto kMqttTimeout = 10s;     // CONNACK, SUBACK, PUBACK of an Ack
constexpr auto kReconnectDelay = 1s;

struct Options {
  std::string url = "tcp://127.0.0.1:1883";
  std::string gateway = "+";
  std::string share;
  std::string username;
  std::string password_file;
  std::string client_id;
  bool ack = false;
  std::uint64_t count = 0;  // 0: no limit
  std::optional<std::chrono::milliseconds> timeout;
  bool quiet_duplicates = false;
};

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

// The {gateway} of xrm/v1/gw/{gateway}/rec/{kind}; empty if the topic is not shaped like that.
std::string topic_gateway(const std::string& topic) {
  constexpr std::string_view kHead = "xrm/v1/gw/";
  if (topic.compare(0, kHead.size(), kHead) != 0) return {};
  const auto end = topic.find('/', kHead.size());
  if (end == std::string::npos || topic.compare(end, 5, "/rec/") != 0) return {};
  return topic.substr(kHead.size(), end - kHead.size());
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

class Tap {
 public:
  Tap(Options o, std::string password)
      : o_(std::move(o)),
        password_(std::move(password)),
        filter_((o_.share.empty() ? "" : "$share/" + o_.share + "/") + "xrm/v1/gw/" + o_.gateway + "/rec/#"),
        client_(o_.url, o_.client_id, ::mqtt::create_options(MQTTVERSION_5), nullptr) {
    client_.start_consuming();
  }
  ~Tap() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(2s);
    } catch (const std::exception&) {
    }
    try {
      client_.stop_consuming();
    } catch (const std::exception&) {
    }
  }
  Tap(const Tap&) = delete;
  Tap& operator=(const Tap&) = delete;

  int run() {
    const auto deadline = o_.timeout ? std::optional(Clock::now() + *o_.timeout) : std::nullopt;
    if (!connect_and_subscribe(true)) return xrm::kExitFailure;
    int code = xrm::kExitOk;
    for (;;) {
      if (o_.count > 0 && printed_ >= o_.count) break;
      if (g_stop) break;
      if (deadline && Clock::now() >= *deadline) {
        if (o_.count > 0) {
          std::cerr << "xrm-tap: timeout after " << xrm::format_duration(*o_.timeout) << " with " << printed_
                    << " of " << o_.count << " records\n";
          code = xrm::kExitFailure;
        }
        break;
      }
      ::mqtt::const_message_ptr msg;
      if (!client_.try_consume_message_for(&msg, kPoll)) continue;
      if (!msg) {  // Paho's marker for a lost connection
        std::cerr << "xrm-tap: connection to " << o_.url << " lost; reconnecting\n";
        while (!g_stop && !(deadline && Clock::now() >= *deadline) && !connect_and_subscribe(false)) {
          std::this_thread::sleep_for(kReconnectDelay);
        }
        continue;
      }
      handle(*msg);
    }
    summary();
    return code;
  }

 private:
  bool connect_and_subscribe(bool first) {
    try {
      ::mqtt::connect_options opts;
      opts.set_mqtt_version(MQTTVERSION_5);
      opts.set_clean_session(false);  // the 3.1.1 flag must be off under MQTT 5 (Paho rejects it)
      opts.set_clean_start(true);
      opts.set_keep_alive_interval(30s);
      opts.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(kMqttTimeout));
      opts.set_automatic_reconnect(false);
      if (!o_.username.empty()) {
        opts.set_user_name(o_.username);
        if (!password_.empty()) opts.set_password(password_);
      }
      if (!client_.connect(opts)->wait_for(kMqttTimeout)) {
        std::cerr << "xrm-tap: " << o_.url << ": no CONNACK within " << xrm::format_duration(kMqttTimeout) << "\n";
        return false;
      }
      auto tok = client_.subscribe(filter_, 1);
      if (!tok->wait_for(kMqttTimeout)) {
        std::cerr << "xrm-tap: " << filter_ << ": no SUBACK within " << xrm::format_duration(kMqttTimeout) << "\n";
        return false;
      }
      const auto response = tok->get_subscribe_response();  // by value: keep it alive for the loop
      for (const auto rc : response.get_reason_codes()) {
        if (rc >= 0x80) {
          std::cerr << "xrm-tap: " << filter_ << ": subscription refused by " << o_.url << " (reason code " << rc
                    << ")\n";
          return false;
        }
      }
      std::cerr << "xrm-tap: subscribed to " << filter_ << " at " << o_.url << " as " << o_.client_id << "\n";
      return true;
    } catch (const ::mqtt::exception& e) {
      if (first) std::cerr << "xrm-tap: " << o_.url << ": " << one_line(e.what()) << "\n";
      return false;
    }
  }

  void handle(const ::mqtt::message& msg) {
    const std::string& topic = msg.get_topic();
    const std::string gw = topic_gateway(topic);
    xrm::v1::RecordBatch batch;
    if (gw.empty() || !batch.ParseFromString(msg.get_payload_str())) {
      std::cerr << "xrm-tap: " << topic << ": cannot decode a RecordBatch (" << msg.get_payload().size()
                << " bytes)\n";
      return;
    }
    std::vector<std::uint64_t> stored;  // printed now or before: what an Ack may cover
    for (const auto& r : batch.records()) {
      if (o_.count > 0 && printed_ >= o_.count) break;
      if (seqs_.note(r.gateway_id(), r.seq())) {
        std::cout << xrm::tap::record_json(r).dump() << std::endl;  // a line per record, flushed
        ++printed_;
      } else if (!o_.quiet_duplicates) {
        std::cerr << "xrm-tap: duplicate " << r.gateway_id() << " seq " << r.seq() << " ("
                  << xrm::tap::kind_name(r.kind()) << ") on " << topic << "\n";
      }
      stored.push_back(r.seq());
    }
    if (o_.ack && !stored.empty()) send_ack(gw, stored);
  }

  // Acks exactly the seqs of the batch it saw, coalesced: a batch's seqs are not contiguous (kinds
  // share the counter), and acking first..last would delete other kinds' records unseen.
  void send_ack(const std::string& gw, std::vector<std::uint64_t> seqs) {
    xrm::v1::Ack ack;
    ack.set_gateway_id(gw);
    ack.set_consumer_id(o_.client_id);
    ack.set_sent_at_ms(now_ms());
    const auto spans = xrm::tap::coalesce(std::move(seqs));
    for (const auto& s : spans) {
      auto* r = ack.add_ranges();
      r->set_first(s.first);
      r->set_last(s.last);
    }
    const std::string topic = xrm::topics::gw_ack(gw);
    try {
      if (!client_.publish(topic, ack.SerializeAsString(), 1, false)->wait_for(kMqttTimeout)) {
        std::cerr << "xrm-tap: " << topic << ": no PUBACK for the Ack of " << xrm::tap::format_spans(spans) << "\n";
      }
    } catch (const ::mqtt::exception& e) {
      std::cerr << "xrm-tap: " << topic << ": Ack of " << xrm::tap::format_spans(spans)
                << " not sent: " << one_line(e.what()) << "\n";
    }
  }

  void summary() const {
    const auto gws = seqs_.gateways();
    if (gws.empty()) std::cerr << "xrm-tap: summary: no records\n";
    for (const auto& gw : gws) {
      const auto c = seqs_.counts(gw);
      std::cerr << "xrm-tap: summary " << gw << ": " << c.records << " records, " << c.duplicates
                << " duplicates, missing " << xrm::tap::format_spans(seqs_.missing(gw));
      if (c.given_up > 0) std::cerr << " (and " << c.given_up << " seqs no longer tracked)";
      std::cerr << "\n";
    }
  }

  Options o_;
  std::string password_;
  std::string filter_;
  ::mqtt::async_client client_;
  xrm::tap::SeqTracker seqs_;
  std::uint64_t printed_ = 0;
};

bool valid_share_group(const std::string& g) {
  return !g.empty() && g.find_first_of("/+#") == std::string::npos;
}

// What xrm-tap(1) says beyond the options the App declares.
xrm::manpage::Page man_page_prose() {
  xrm::manpage::Page page;
  page.name = "xrm-tap";
  page.section = "1";
  page.summary = "print the records XRM gateways send upstream, once each, as JSON lines";
  page.source = std::string("xrm-gateway ") + XRM_VERSION;
  page.description.push_back(
      {"DESCRIPTION",
       "xrm-tap is the reference central consumer. It subscribes to the records of one gateway, or of all "
       "with --gateway +, on the upstream broker (through a shared-subscription group with --share), decodes "
       "each RecordBatch and prints one JSON line per record it had not seen on stdout. Duplicates and the "
       "seqs it never saw are reported on stderr. With --ack it publishes central's Ack of each batch, for "
       "gateways configured with upstream.confirm = central.\n\n"
       "It stops on SIGINT or SIGTERM, after --count unique records, or after --timeout.",
       {}});
  page.sections.push_back({"EXIT STATUS",
                           "",
                           {{"0", "", "Success (with --count: that many unique records arrived)."},
                            {"1", "", "Runtime failure: the broker is unreachable or refused the connection."},
                            {"2", "", "Usage error."}}});
  page.sections.push_back({"SEE ALSO", "xrm-gatewayd(8), xrm-gateway.toml(5), xrmctl(1)", {}});
  return page;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string timeout_text;
  CLI::App app{"xrm-tap: subscribe to XRM gateways' records upstream, print each once as a JSON line", "xrm-tap"};
  app.add_option("--url", o.url, "Upstream broker URL")->capture_default_str();
  app.add_option("--gateway", o.gateway, "Gateway id to follow; + for all")->capture_default_str();
  app.add_option("--share", o.share, "Subscribe through the shared-subscription group GROUP")->type_name("GROUP");
  app.add_option("--username", o.username, "MQTT user name");
  app.add_option("--password-file", o.password_file, "File whose first line is the MQTT password")
      ->type_name("FILE");
  app.add_option("--client-id", o.client_id, "MQTT client id (default xrm-tap-<pid>)");
  app.add_flag("--ack", o.ack, "After each batch, publish an Ack of its seqs to xrm/v1/gw/{gateway}/ack");
  app.add_option("--count", o.count, "Exit 0 after N unique records (1 if --timeout passes first)")
      ->type_name("N");
  app.add_option("--timeout", timeout_text, "Exit after DURATION, e.g. 10s, 2m")->type_name("DURATION");
  app.add_flag("--quiet-duplicates", o.quiet_duplicates, "Do not report each duplicate on stderr");
  // Hidden (group ""): the build prints the page with it (cmake/XrmManPages.cmake).
  bool print_man_page = false;  // handled before parsing (below)
  app.add_flag(xrm::manpage::kOption, print_man_page, "Print the man page xrm-tap(1) and exit")->group("");
  if (const auto rc = xrm::manpage::print_if_requested(argc, argv, man_page_prose(), app, std::cout, std::cerr)) return *rc;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "xrm-tap: " << one_line(e.what()) << " (see xrm-tap --help)\n";
    return xrm::kExitUsage;
  }
  if (app.count("--count") > 0 && o.count == 0) {
    std::cerr << "xrm-tap: --count: must be 1 or more\n";
    return xrm::kExitUsage;
  }
  if (!timeout_text.empty()) {
    auto t = xrm::parse_duration(timeout_text);
    if (!t || t->count() == 0) {
      std::cerr << "xrm-tap: --timeout: " << (t ? "must be longer than 0s" : t.status().message()) << "\n";
      return xrm::kExitUsage;
    }
    o.timeout = *t;
  }
  if (o.gateway != "+" && !xrm::is_valid_id(o.gateway)) {
    std::cerr << "xrm-tap: --gateway \"" << o.gateway << "\": " << xrm::id_error(o.gateway) << "\n";
    return xrm::kExitUsage;
  }
  if (app.count("--share") > 0 && !valid_share_group(o.share)) {
    std::cerr << "xrm-tap: --share \"" << o.share << "\": must be non-empty, without / + #\n";
    return xrm::kExitUsage;
  }
  if (!o.password_file.empty() && o.username.empty()) {
    std::cerr << "xrm-tap: --password-file needs --username\n";
    return xrm::kExitUsage;
  }
  std::string password;
  if (!o.password_file.empty()) {
    std::ifstream in(o.password_file);
    if (!in) {
      std::cerr << "xrm-tap: " << o.password_file << ": cannot read the password file\n";
      return xrm::kExitUsage;
    }
    std::getline(in, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
  }
  if (o.client_id.empty()) o.client_id = "xrm-tap-" + std::to_string(::getpid());

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  try {
    Tap tap(std::move(o), std::move(password));
    return tap.run();
  } catch (const std::exception& e) {
    std::cerr << "xrm-tap: " << one_line(e.what()) << "\n";
    return xrm::kExitFailure;
  }
}
