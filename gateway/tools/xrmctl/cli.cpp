#include "xrmctl/cli.hpp"

#include <CLI/CLI.hpp>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "xrm/common/units.hpp"
#include "xrm/health/profiles.hpp"
#include "xrm/manpage/manpage.hpp"
#include "xrmctl/format.hpp"
#include "xrmctl/qr.hpp"
#include "xrmctl/render.hpp"

namespace xrm::xrmctl {

using nlohmann::json;

int exit_code(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotFound:
    case Status::Code::kAlreadyExists: return kExitUsage;
    default: return kExitFailure;
  }
}

namespace {

constexpr std::array<const char*, kStakeholderFields.size()> kLinkHelp = {
    "Owner (customer) of the device", "Site where it is installed", "Technician who services it",
    "Supplier it came from", "Model (product line) it belongs to"};

// The stakeholder options of one subcommand; only those given on the command line are sent.
class LinkOptions {
 public:
  void add_to(CLI::App& sub, const std::string& note) {
    for (std::size_t i = 0; i < kStakeholderFields.size(); ++i) {
      options_[i] = sub.add_option("--" + std::string{kStakeholderFields[i]}, values_[i], kLinkHelp[i] + note);
    }
  }
  bool any_given() const {
    for (const CLI::Option* o : options_) {
      if (o->count() > 0) return true;
    }
    return false;
  }
  void put_given(json& args) const {
    for (std::size_t i = 0; i < kStakeholderFields.size(); ++i) {
      if (options_[i]->count() > 0) args[std::string{kStakeholderFields[i]}] = values_[i];
    }
  }

 private:
  std::array<std::string, kStakeholderFields.size()> values_;
  std::array<CLI::Option*, kStakeholderFields.size()> options_{};
};

inline constexpr std::uint64_t kMaxDeadLetters = 10000;  // what the daemon answers at most

// --limit of dead-letters: a whole number from 1 to kMaxDeadLetters, written as digits only.
Result<std::uint64_t> parse_limit(const std::string& text) {
  std::uint64_t n = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (text.empty() || ec != std::errc{} || ptr != end || n < 1 || n > kMaxDeadLetters) {
    return Status::invalid_argument("--limit: \"" + text + "\" is not a whole number from 1 to " +
                                    std::to_string(kMaxDeadLetters));
  }
  return n;
}

// CLI11's message on one line.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// `xrmctl rules check FILE`: loads the file with the daemon's own loader, here, so a technician
// can check a file before installing it (no daemon needed).
int check_rules(const std::string& file, bool as_json, std::ostream& out, std::ostream& err) {
  std::vector<config::ConfigError> errors;
  const health::Profiles profiles = health::load_profiles_file(file, errors);
  std::size_t rules = 0;
  for (const auto& p : profiles.profiles) rules += p.rules.size();
  if (as_json) {
    json problems = json::array();
    for (const auto& e : errors) problems.push_back(e.to_string());
    out << json{{"file", file}, {"ok", errors.empty()}, {"classes", profiles.class_names()}, {"rules", rules},
                {"errors", std::move(problems)}}
               .dump(2)
        << "\n";
  } else if (errors.empty()) {
    out << file << ": ok, " << profiles.profiles.size() << (profiles.profiles.size() == 1 ? " class, " : " classes, ")
        << rules << (rules == 1 ? " rule" : " rules") << "\n";
  } else {
    for (const auto& e : errors) err << e.to_string() << "\n";
  }
  return errors.empty() ? kExitOk : kExitUsage;
}

// What xrmctl(1) says beyond the options, subcommands and positionals the App declares.
manpage::Page man_page_prose() {
  manpage::Page page;
  page.name = "xrmctl";
  page.section = "1";
  page.summary = "the technician's CLI of the XRM edge gateway";
  page.source = std::string("xrm-gateway ") + XRM_VERSION;
  page.description.push_back(
      {"DESCRIPTION",
       "xrmctl talks to the running xrm-gatewayd(8) over its control socket: it provisions devices and "
       "links them to their stakeholders, shows devices, the gateway's status and its dead letters, ranks "
       "stakeholders and reloads the health rules. Each command sends one request; ids, durations and limits "
       "are checked before connecting. The result is printed as text, or as JSON with --json.\n\n"
       "Global options may also follow the command. An id starting with - follows --, as in "
       "xrmctl show -- -odd-id.\n\n"
       "The socket is mode 0660, owned by the daemon's group xrm-gateway (created by the Debian package): "
       "technicians must be members of that group (adduser NAME xrm-gateway) to use xrmctl. Every change "
       "is recorded in the device's history with the technician's uid.",
       {}});
  page.sections.push_back({"ENVIRONMENT",
                           "",
                           {{"XRMCTL_SOCKET", "",
                             std::string("The control socket when --socket is not given (default ") + kDefaultSocket +
                                 ")."}}});
  page.sections.push_back(
      {"FILES",
       "",
       {{kDefaultSocket, "", "The daemon's control socket (control.socket in xrm-gateway.toml(5))."}}});
  page.sections.push_back(
      {"EXIT STATUS",
       "",
       {{"0", "", "Success."},
        {"1", "", "Runtime failure: the daemon is unreachable, a timeout, an internal error."},
        {"2", "",
         "Usage error, an invalid device id, or a request the daemon refused (invalid argument, unknown or "
         "existing device)."}}});
  page.sections.push_back({"SEE ALSO", "xrm-gatewayd(8), xrm-gateway.toml(5), xrm-devsim(1)", {}});
  return page;
}

}  // namespace

int run(int argc, const char* const* argv, const Transport& send, const Clock& clock, std::ostream& out,
        std::ostream& err) {
  CLI::App app{"xrmctl: the technician's CLI of the XRM edge gateway", "xrmctl"};
  app.fallthrough();  // global options may also follow the verb; subcommands inherit this
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 success; 1 runtime failure (daemon unreachable, timeout, internal error); 2 usage error,\n"
      "invalid device id, or a request the daemon refused (invalid argument, unknown or existing device).");

  const char* env_socket = std::getenv("XRMCTL_SOCKET");
  std::string socket = env_socket != nullptr && *env_socket != '\0' ? env_socket : kDefaultSocket;
  std::string timeout_text = "10s";
  bool as_json = false;
  // The default shown is the built-in one, not $XRMCTL_SOCKET's: the man page must not depend on
  // the environment of the build.
  app.add_option("--socket", socket, "Control socket of the daemon (environment: XRMCTL_SOCKET)")
      ->default_str(kDefaultSocket);
  app.add_flag("--json", as_json, "Print the daemon's result as JSON");
  app.add_option("--timeout", timeout_text, "How long to wait for the daemon's answer (500ms, 10s, 1m)")
      ->capture_default_str();
  app.set_version_flag("--version", std::string{"xrmctl "} + XRM_VERSION);

  const std::string device_help = "Device id: 1 to 64 of A-Z a-z 0-9 . _ -";
  std::string device;
  std::string profile;
  bool rotate = false;
  bool qr = false;
  LinkOptions provision_links;
  LinkOptions link_links;

  CLI::App* provision =
      app.add_subcommand("provision", "Register a device, create its broker credentials and print them once");
  provision->add_option("DEVICE", device, device_help)->required();
  provision->add_option("--class", profile, "Profile (device class) that judges its health")->required();
  provision_links.add_to(*provision, "");
  provision->add_flag("--rotate", rotate, "Issue new credentials for a device already provisioned");
  provision->add_flag("--qr", qr, "Also print the provisioning URI as a QR code");
  app.add_subcommand("devices", "List every device: class, lifecycle, online, score, band, last seen");
  CLI::App* show = app.add_subcommand("show", "One device: stakeholders, health and why, alerts, history");
  show->add_option("DEVICE", device, device_help)->required();
  CLI::App* link = app.add_subcommand("link", "Change a device's stakeholder links (only the options given)");
  link->add_option("DEVICE", device, device_help)->required();
  link_links.add_to(*link, " (an empty value clears the link)");
  CLI::App* retire = app.add_subcommand("retire", "Revoke a device's credentials; its history is kept");
  retire->add_option("DEVICE", device, device_help)->required();
  app.add_subcommand("status", "The gateway: uptime, connections, ingest, outbox, drops, dead letters, condensation");
  std::string limit_text;
  CLI::App* dead_letters =
      app.add_subcommand("dead-letters", "Device messages the gateway could not use, newest first, and why");
  CLI::Option* limit_option =
      dead_letters->add_option("--limit", limit_text, "How many to show, 1 to 10000 (the daemon's default: 20)")
          ->type_name("N");
  bool upstream_letters = false;
  bool requeue = false;
  dead_letters->add_flag("--upstream", upstream_letters,
                         "Records the upstream broker refused (set aside with a gap record) instead");
  dead_letters->add_flag("--requeue", requeue,
                         "With --upstream: put every refused record back into the outbox (after fixing the cause)")
      ->needs("--upstream");

  std::string rank_by;
  std::string rank_period;
  CLI::App* rank = app.add_subcommand(
      "rank", "Stakeholders ranked by the relationships their devices show: the figures and what moved each rank");
  rank->add_option("--by", rank_by, "technician, supplier, model, owner or site")
      ->required()
      ->check(CLI::IsMember({"technician", "supplier", "model", "owner", "site"}));
  rank->add_option("--period", rank_period, "Rolling period, e.g. 7d, 30d (the daemon's scorecard.period)")
      ->type_name("DURATION");

  CLI::App* rules = app.add_subcommand("rules", "Health rules: check a profiles file, or reload the daemon's");
  rules->require_subcommand(1);
  std::string rules_file;
  CLI::App* rules_check =
      rules->add_subcommand("check", "Validate a profiles file here, without the daemon; every problem as FILE:LINE");
  rules_check->add_option("FILE", rules_file, "Profiles file (TOML)")->required();
  rules->add_subcommand("reload",
                        "Make the daemon reload its profiles file (health.profiles); a bad file is refused "
                        "and the running rules stay");

  // Hidden (group ""): the build prints the page with it (cmake/XrmManPages.cmake). Checked before
  // parsing, which would ask for a command; the page comes from this App, fully built.
  bool print_man_page = false;  // handled before parsing (below)
  app.add_flag(manpage::kOption, print_man_page, "Print the man page xrmctl(1) and exit")->group("");
  if (const auto rc = manpage::print_if_requested(argc, argv, man_page_prose(), app, out, err)) return *rc;

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e, out, err);  // --help, --version
    const auto subs = app.get_subcommands();
    const std::string help = subs.empty() ? "xrmctl --help" : "xrmctl " + subs.front()->get_name() + " --help";
    err << "xrmctl: " << one_line(e.what()) << " (see " << help << ")\n";
    return kExitUsage;
  }

  const auto timeout = parse_duration(timeout_text);
  if (!timeout || timeout->count() == 0) {
    err << "xrmctl: --timeout: " << (timeout ? "must be longer than 0s" : timeout.status().message()) << "\n";
    return kExitUsage;
  }
  const CLI::App* verb = app.get_subcommands().front();
  if (verb == rules && rules_check->parsed()) return check_rules(rules_file, as_json, out, err);
  Request request{socket, verb == rules ? "rules-reload" : verb->get_name(), json::object(), *timeout};
  if (verb == provision || verb == show || verb == link || verb == retire) {
    if (const std::string e = device_id_error(device); !e.empty()) {
      err << "xrmctl: " << e << "\n";
      return kExitUsage;
    }
    request.args["device"] = device;
  }
  if (verb == provision) {
    request.args["class"] = profile;
    provision_links.put_given(request.args);
    request.args["rotate"] = rotate;
  }
  if (verb == link) {
    if (!link_links.any_given()) {
      err << "xrmctl: link: give at least one of --owner, --site, --technician, --supplier, --model\n";
      return kExitUsage;
    }
    link_links.put_given(request.args);
  }
  if (verb == dead_letters && limit_option->count() > 0) {
    const auto limit = parse_limit(limit_text);
    if (!limit) {
      err << "xrmctl: " << limit.status().message() << "\n";
      return kExitUsage;
    }
    request.args["limit"] = *limit;
  }
  if (verb == dead_letters && upstream_letters) {
    request.args["upstream"] = true;
    if (requeue) request.args["requeue"] = true;
  }

  if (verb == rank) {
    request.args["by"] = rank_by;
    if (!rank_period.empty()) {
      const auto period = parse_duration(rank_period);
      if (!period || period->count() == 0) {
        err << "xrmctl: --period: " << (period ? "must be longer than 0s" : period.status().message()) << "\n";
        return kExitUsage;
      }
      request.args["period"] = rank_period;
    }
  }

  Result<json> reply = send(request);
  if (!reply) {
    const Status& st = reply.status();
    err << "xrmctl: " << (st.message().empty() ? st.to_string() : st.message()) << "\n";
    return exit_code(st.code());
  }
  json result = std::move(reply).value();

  // A QR code that cannot be drawn is reported but does not fail the command: the device is
  // provisioned and its one-time password printed, and a script must not take it for a failure.
  std::vector<std::string> qr_lines;
  std::string qr_error;
  if (qr) {
    const json& uri = field(result, "uri");
    auto lines = uri.is_string()
                     ? render_qr(uri.get_ref<const std::string&>())
                     : Result<std::vector<std::string>>{Status::invalid_argument("QR code: the reply has no uri")};
    if (lines) {
      qr_lines = std::move(lines).value();
    } else {
      qr_error = lines.status().message() + " (the device is provisioned)";
    }
  }

  if (as_json) {
    if (!qr_lines.empty() && result.is_object()) result["qr"] = qr_lines;
    out << result.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    const std::int64_t now_ms = clock.unix_ms();
    const std::string& name = request.verb;
    if (name == "provision") out << render_provision(result, qr_lines);
    if (name == "devices") out << render_devices(result, now_ms);
    if (name == "show") out << render_show(result, now_ms);
    if (name == "link") out << render_link(result);
    if (name == "retire") out << render_retire(result);
    if (name == "status") out << render_status(result);
    if (name == "dead-letters") out << render_dead_letters(result);
    if (name == "rules-reload") out << render_rules_reload(result);
    if (name == "rank") out << render_rank(result);
  }
  if (!qr_error.empty()) err << "xrmctl: " << qr_error << "\n";
  return kExitOk;
}

}  // namespace xrm::xrmctl
