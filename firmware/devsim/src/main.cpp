// xrm-devsim: a fleet of simulated devices in one process, for developers, testers and demos
// (docs/devsim.md). Each device is an xrm::device::Device with its own MQTT connection,
// authenticated with the credentials `xrmctl --json provision` printed for it; what each does
// comes from a scenario file, played in real time by the deterministic engine. One thread: the
// loop below steps the fleet every few ms (Paho's own threads only queue events for it).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "xrm/common/exit_codes.hpp"
#include "xrm/common/units.hpp"
#include "xrm/device/paho_transport.hpp"
#include "xrm/devsim/credentials.hpp"
#include "xrm/devsim/fleet.hpp"
#include "xrm/devsim/scenario.hpp"
#include "xrm/manpage/manpage.hpp"

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int /*sig*/) { g_stop = 1; }

constexpr auto kStep = 10ms;        // how often the fleet is stepped when nothing is due sooner
constexpr int kSpareDescriptors = 64;  // files, the state directories, Paho's own

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// Loads the scenario or prints every problem; nullopt on errors.
std::optional<xrm::devsim::Scenario> load(const std::string& path) {
  std::vector<xrm::devsim::ScenarioError> errors;
  xrm::devsim::Scenario s = xrm::devsim::load_scenario_file(path, errors);
  if (errors.empty()) return s;
  for (const auto& e : errors) std::cerr << e.to_string() << "\n";
  return std::nullopt;
}

// A stakeholder value goes into a tab-separated line: no tabs or line breaks.
bool tsv_safe(const std::string& v) { return v.find_first_of("\t\r\n") == std::string::npos; }

int list(const xrm::devsim::Scenario& s) {
  for (const auto& g : s.groups) {
    for (const std::string& id : g.devices) {
      for (const std::string* v : {&g.owner, &g.site, &g.technician, &g.supplier, &g.model}) {
        if (!tsv_safe(*v)) {
          std::cerr << s.source << ":" << g.line << ": a stakeholder of " << id
                    << " contains a tab or line break, which `list` cannot print\n";
          return xrm::kExitUsage;
        }
      }
      std::cout << id << '\t' << g.device_class << '\t' << g.owner << '\t' << g.site << '\t' << g.technician
                << '\t' << g.supplier << '\t' << g.model << '\n';
    }
  }
  return xrm::kExitOk;
}

// Enough descriptors for one connection per device: raises the soft limit up to the hard one.
bool ensure_descriptors(std::size_t devices) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return true;  // cannot tell; let connects fail loudly
  const rlim_t need = static_cast<rlim_t>(devices) + kSpareDescriptors;
  if (lim.rlim_cur >= need) return true;
  rlimit want = lim;
  want.rlim_cur = lim.rlim_max == RLIM_INFINITY ? need : std::min(need, lim.rlim_max);
  if (::setrlimit(RLIMIT_NOFILE, &want) == 0 && want.rlim_cur >= need) return true;
  std::cerr << "xrm-devsim: " << devices << " devices need " << need << " file descriptors; the limit is "
            << lim.rlim_max << " (raise it with ulimit -n or LimitNOFILE=)\n";
  return false;
}

struct RunOptions {
  std::string credentials;
  std::optional<std::uint64_t> seed;
  std::string duration;
  std::string state_dir;
  std::string encoding = "json";
  int qos = 0;
  double connect_rate = 200;
  std::string progress = "10s";
  std::string drain = "10s";
  std::string ca_file;
  bool json = false;
};

nlohmann::json stats_json(const xrm::devsim::FleetStats& st, const xrm::devsim::EngineStats& es) {
  return {{"devices", st.devices},
          {"online", st.online},
          {"never_connected", st.never_connected},
          {"connects", st.connects},
          {"connect_failures", st.connect_failures},
          {"connections_lost", st.connections_lost},
          {"telemetry_made", st.telemetry},
          {"telemetry_lost", st.telemetry_lost},
          {"telemetry_silent", es.telemetry_silent},
          {"events", st.events},
          {"refused", st.refused},
          {"published", st.published},
          {"delivered", st.delivered},
          {"retries", st.retries},
          {"buffered", st.buffered},
          {"dropped", st.dropped},
          {"commands", st.commands}};
}

void print_progress(std::chrono::milliseconds elapsed, const xrm::devsim::FleetStats& st) {
  std::printf("[%5llds] online %zu/%zu  telemetry %llu (lost %llu)  events %llu  delivered %llu  buffered %llu  commands %llu\n",
              static_cast<long long>(elapsed.count() / 1000), st.online, st.devices,
              static_cast<unsigned long long>(st.telemetry), static_cast<unsigned long long>(st.telemetry_lost),
              static_cast<unsigned long long>(st.events), static_cast<unsigned long long>(st.delivered),
              static_cast<unsigned long long>(st.buffered), static_cast<unsigned long long>(st.commands));
  std::fflush(stdout);
}

int run(xrm::devsim::Scenario scenario, const RunOptions& o) {
  if (!o.duration.empty()) {
    auto d = xrm::parse_duration(o.duration);
    if (!d || d->count() <= 0) {
      std::cerr << "xrm-devsim: --duration: " << (d ? "must be longer than 0s" : d.status().message()) << "\n";
      return xrm::kExitUsage;
    }
    scenario.duration_ms = d->count();
  }
  std::optional<std::chrono::milliseconds> progress, drain;
  for (auto [text, out, name] : {std::tuple{&o.progress, &progress, "--progress"}, std::tuple{&o.drain, &drain, "--drain"}}) {
    auto d = xrm::parse_duration(*text);
    if (!d) {
      std::cerr << "xrm-devsim: " << name << ": " << d.status().message() << "\n";
      return xrm::kExitUsage;
    }
    *out = *d;
  }
  xrm::devsim::FleetOptions fo;
  if (o.encoding == "json") {
    fo.encoding = xrm::device::Encoding::kJson;
  } else if (o.encoding == "protobuf") {
    fo.encoding = xrm::device::Encoding::kProtobuf;
  } else {
    std::cerr << "xrm-devsim: --encoding: \"" << o.encoding << "\" is not json or protobuf\n";
    return xrm::kExitUsage;
  }
  if (o.qos != 0 && o.qos != 1) {
    std::cerr << "xrm-devsim: --qos: " << o.qos << " is not 0 or 1\n";
    return xrm::kExitUsage;
  }
  if (!(o.connect_rate > 0)) {
    std::cerr << "xrm-devsim: --connect-rate: must be more than 0\n";
    return xrm::kExitUsage;
  }
  fo.telemetry_qos = o.qos;
  fo.connect_rate = o.connect_rate;
  fo.state_dir = o.state_dir;
  fo.firmware_version = std::string("devsim-") + XRM_VERSION;

  std::vector<std::string> errors;
  auto credentials = xrm::devsim::load_credentials_file(o.credentials, errors);
  if (!errors.empty()) {
    for (const auto& e : errors) std::cerr << e << "\n";
    return xrm::kExitUsage;
  }
  if (!ensure_descriptors(scenario.device_count())) return xrm::kExitFailure;

  xrm::device::PahoTransportOptions po;
  po.ca_file = o.ca_file;
  xrm::devsim::Fleet fleet(scenario, o.seed.value_or(scenario.seed), std::move(credentials), fo,
                           [po] { return std::make_unique<xrm::device::PahoTransport>(po); });
  if (xrm::device::Status st = fleet.prepare(); !st) {
    std::cerr << "xrm-devsim: " << st.message() << "\n";
    return xrm::kExitUsage;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const std::chrono::milliseconds duration(scenario.duration_ms);
  if (!o.json) {
    std::printf("xrm-devsim: %zu devices from %s for %s (seed %llu)\n", scenario.device_count(), scenario.source.c_str(),
                xrm::format_duration(duration).c_str(),
                static_cast<unsigned long long>(o.seed.value_or(scenario.seed)));
    std::fflush(stdout);
  }
  const auto start = SteadyClock::now();
  auto next_progress = *progress;
  bool interrupted = false;
  while (true) {
    if (g_stop) {
      interrupted = true;
      break;
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
    fleet.step(elapsed.count());
    if (elapsed >= duration && ((fleet.all_started() && fleet.settled()) || elapsed >= duration + *drain)) break;
    if (!o.json && progress->count() > 0 && elapsed >= next_progress) {
      print_progress(elapsed, fleet.stats());
      next_progress += *progress;
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kStep);
    if (auto due = fleet.next_due()) wait = std::clamp(std::chrono::milliseconds(*due) - elapsed, 0ms, wait);
    std::this_thread::sleep_for(wait);
  }
  const auto stats = fleet.stats();  // before stop(): who is online, what still waits
  const auto missing = fleet.never_connected();
  const std::string connection_problem = fleet.connection_problem();
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  const auto stop_start = SteadyClock::now();
  fleet.stop();
  const auto stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - stop_start);

  int code = xrm::kExitOk;
  std::vector<std::string> problems;
  if (!missing.empty()) {
    problems.push_back(std::to_string(missing.size()) + " devices never connected (first: " + missing.front() + ")" +
                       (connection_problem.empty() ? "" : "; " + connection_problem));
  }
  if (stats.buffered > 0 && !interrupted) {
    problems.push_back(std::to_string(stats.buffered) + " messages were still waiting to be delivered after the drain time");
  }
  if (!problems.empty()) code = xrm::kExitFailure;

  if (o.json) {
    nlohmann::json j = stats_json(stats, fleet.engine_stats());
    j["scenario"] = scenario.source;
    j["elapsed_ms"] = elapsed.count();
    j["stop_ms"] = stop_ms.count();
    j["interrupted"] = interrupted;
    j["problems"] = problems;
    j["first_problem"] = fleet.first_problem();
    j["connection_problem"] = connection_problem;
    std::cout << j.dump() << "\n";
  } else {
    const auto& es = fleet.engine_stats();
    std::printf("xrm-devsim: %s after %s (stopping the devices took %s)\n", interrupted ? "interrupted" : "done",
                xrm::format_duration(elapsed).c_str(), xrm::format_duration(stop_ms).c_str());
    std::printf("  devices      %zu, connected %llu times, %llu connect failures, %llu connections lost\n",
                stats.devices, static_cast<unsigned long long>(stats.connects),
                static_cast<unsigned long long>(stats.connect_failures),
                static_cast<unsigned long long>(stats.connections_lost));
    std::printf("  telemetry    %llu made: %llu sent, %llu lost on the way (flaky); %llu periods silent\n",
                static_cast<unsigned long long>(stats.telemetry),
                static_cast<unsigned long long>(stats.telemetry - stats.telemetry_lost),
                static_cast<unsigned long long>(stats.telemetry_lost),
                static_cast<unsigned long long>(es.telemetry_silent));
    std::printf("  events       %llu; commands answered %llu\n", static_cast<unsigned long long>(stats.events),
                static_cast<unsigned long long>(stats.commands));
    std::printf("  broker       %llu delivered of %llu published, %llu retries, %llu still buffered, %llu dropped\n",
                static_cast<unsigned long long>(stats.delivered), static_cast<unsigned long long>(stats.published),
                static_cast<unsigned long long>(stats.retries), static_cast<unsigned long long>(stats.buffered),
                static_cast<unsigned long long>(stats.dropped));
    if (stats.refused > 0) std::printf("  refused      %llu messages, first: %s\n", static_cast<unsigned long long>(stats.refused),
                                       fleet.first_problem().c_str());
  }
  for (const auto& p : problems) std::cerr << "xrm-devsim: " << p << "\n";
  return code;
}

// What xrm-devsim(1) says beyond the options, subcommands and positionals the App declares.
xrm::manpage::Page man_page_prose() {
  xrm::manpage::Page page;
  page.name = "xrm-devsim";
  page.section = "1";
  page.summary = "a fleet of simulated devices playing a scenario against an XRM gateway";
  page.source = std::string("xrm-gateway ") + XRM_VERSION;
  page.description.push_back(
      {"DESCRIPTION",
       "xrm-devsim runs a fleet of simulated devices in one process, for developers, testers and demos. Each "
       "device is a device of the firmware library with its own MQTT connection to the gateway's local "
       "broker, authenticated with the credentials xrmctl --json provision printed for it. What each device "
       "does (telemetry, events, faults, going offline) comes from a scenario file (TOML), played in real "
       "time by a deterministic engine: the same scenario and seed give the same messages.\n\n"
       "A typical run provisions the scenario's devices first:\n\n"
       "  xrm-devsim list fleet.toml | while read -r dev class rest; do\n"
       "    xrmctl --json provision \"$dev\" --class \"$class\" >> creds.jsonl\n"
       "  done\n"
       "  xrm-devsim run fleet.toml --credentials creds.jsonl --state-dir /tmp/devsim",
       {}});
  page.sections.push_back({"EXIT STATUS",
                           "",
                           {{"0", "", "Success: the scenario was played (check, list: the file is valid)."},
                            {"1", "", "Runtime failure."},
                            {"2", "", "Usage error, or a scenario or credentials file with errors."}}});
  page.sections.push_back({"SEE ALSO", "xrmctl(1), xrm-gatewayd(8)", {}});
  return page;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xrm-devsim: a fleet of simulated devices playing a scenario against an XRM gateway (docs/devsim.md)",
               "xrm-devsim"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("xrm-devsim ") + XRM_VERSION);
  std::string scenario_path;

  auto* check = app.add_subcommand("check", "Validate a scenario file: every problem as FILE:LINE:KEY: message");
  check->add_option("SCENARIO", scenario_path, "Scenario file (TOML)")->required();

  auto* lst = app.add_subcommand(
      "list", "Print the scenario's devices, one per line, tab-separated: device class owner site technician supplier model");
  lst->add_option("SCENARIO", scenario_path, "Scenario file (TOML)")->required();

  RunOptions o;
  std::uint64_t seed = 0;
  auto* r = app.add_subcommand("run", "Connect every device of the scenario and play it in real time");
  r->add_option("SCENARIO", scenario_path, "Scenario file (TOML)")->required();
  r->add_option("--credentials", o.credentials,
                "File of `xrmctl --json provision` results (one JSON object per device, appended)")
      ->required()
      ->type_name("FILE");
  auto* seed_opt = r->add_option("--seed", seed, "Replace the scenario's seed")->type_name("N");
  r->add_option("--duration", o.duration, "Replace the scenario's duration, e.g. 30s, 5m")->type_name("DURATION");
  r->add_option("--state-dir", o.state_dir, "Where each device keeps its sequence counters (DIR/DEVICE/)")
      ->type_name("DIR")
      ->required();
  r->add_option("--encoding", o.encoding, "Telemetry and events as json or protobuf")->capture_default_str();
  r->add_option("--qos", o.qos, "Telemetry QoS, 0 or 1 (events are always QoS 1)")->capture_default_str();
  r->add_option("--connect-rate", o.connect_rate, "New connections per second while the fleet starts")
      ->capture_default_str()
      ->type_name("N");
  r->add_option("--progress", o.progress, "Print a progress line this often (0s: never)")->capture_default_str()->type_name("DURATION");
  r->add_option("--drain", o.drain, "After the scenario, wait at most this long for buffered messages")
      ->capture_default_str()
      ->type_name("DURATION");
  r->add_option("--ca-file", o.ca_file, "CA bundle for ssl:// broker URLs")->type_name("FILE");
  r->add_flag("--json", o.json, "Print only the final report, as one JSON object");

  // Hidden (group ""): the build prints the page with it (cmake/XrmManPages.cmake). Checked before
  // parsing, which would ask for a command; the page comes from this App, fully built.
  bool print_man_page = false;  // handled before parsing (below)
  app.add_flag(xrm::manpage::kOption, print_man_page, "Print the man page xrm-devsim(1) and exit")->group("");
  if (const auto rc = xrm::manpage::print_if_requested(argc, argv, man_page_prose(), app, std::cout, std::cerr)) return *rc;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "xrm-devsim: " << one_line(e.what()) << " (see xrm-devsim --help)\n";
    return xrm::kExitUsage;
  }
  auto scenario = load(scenario_path);
  if (!scenario) return xrm::kExitUsage;
  if (check->parsed()) {
    std::size_t behaviours = 0;
    for (const auto& g : scenario->groups) behaviours += g.behaviours.size();
    std::cout << scenario_path << ": ok, " << scenario->device_count() << " devices in " << scenario->groups.size()
              << " groups, " << behaviours << " behaviours, "
              << xrm::format_duration(std::chrono::milliseconds(scenario->duration_ms)) << "\n";
    return xrm::kExitOk;
  }
  if (lst->parsed()) return list(*scenario);
  if (seed_opt->count() > 0) o.seed = seed;
  try {
    return run(std::move(*scenario), o);
  } catch (const std::exception& e) {
    std::cerr << "xrm-devsim: " << one_line(e.what()) << "\n";
    return xrm::kExitFailure;
  }
}
