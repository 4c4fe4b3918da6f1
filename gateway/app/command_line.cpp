#include "command_line.hpp"

#include "xrm/config/options.hpp"
#include "xrm/manpage/manpage.hpp"

#ifndef XRM_VERSION
#define XRM_VERSION "0.0.0"
#endif

namespace xrm::app {

void declare_options(CLI::App& cli, CommandLine& line) {
  cli.add_option("-c,--config", line.config_path, "Configuration file (TOML)")->capture_default_str();
  cli.add_flag("--check-config", line.check_only,
               "Validate the configuration and the profiles file (and read the password files), then exit");
  cli.add_flag("--print-config-reference", line.print_reference,
               "Print the configuration reference (Markdown) and exit");
  cli.add_flag("-V,--version", line.show_version, "Print the version and exit");
  cli.add_option(manpage::kOption, line.man_page, "Print a man page (xrm-gatewayd or xrm-gateway.toml) and exit")
      ->group("");
  cli.footer("Configuration keys (section, key, type, default):\n" + config::render_reference_text() +
             "\nExit codes: 0 success, 1 runtime failure, 2 usage or configuration error.");
}

namespace {

manpage::Page daemon_page() {
  manpage::Page page;
  page.name = "xrm-gatewayd";
  page.section = "8";
  page.summary = "XRM edge gateway daemon: devices as stakeholders, health, durable uplink";
  page.source = std::string("xrm-gateway ") + XRM_VERSION;
  page.description.push_back(
      {"DESCRIPTION",
       "xrm-gatewayd subscribes to the devices' messages on the local MQTT broker (Mosquitto), keeps a "
       "registry of the devices and their stakeholders (owner, site, technician, supplier, model), judges "
       "each device's health by the rules of its profile, condenses telemetry into records and sends them "
       "to the central broker through a durable, ordered outbox (SQLite): a record made is never lost by a "
       "crash, a power cut or an upstream outage.\n\n"
       "Its configuration is a TOML file, described in xrm-gateway.toml(5); --help also lists every key. "
       "Technicians talk to the running daemon with xrmctl(1) over its control socket.",
       {}});
  page.sections.push_back(
      {"SIGNALS",
       "",
       {{"SIGHUP", "",
         "Re-read the configuration and the profiles file (systemctl reload xrm-gatewayd). Keys marked reload "
         "in xrm-gateway.toml(5) and the new device classes and rules are applied; changed keys that need a "
         "restart are logged. A broken file is reported and the running configuration is kept."},
        {"SIGTERM, SIGINT", "",
         "Publish the retained status offline upstream (waiting up to 2 s for its acknowledgement), "
         "disconnect and exit 0, within 6 s."}}});
  page.sections.push_back(
      {"SYSTEMD",
       "The daemon runs as a Type=notify service: it sends READY=1 once started, RELOADING=1 and READY=1 "
       "around a reload and STOPPING=1 on shutdown. With WatchdogSec set, its io thread sends WATCHDOG=1 at "
       "half that interval, so systemd restarts a stalled pipeline. Logs go to stderr, which is the journal "
       "under systemd (journalctl -u xrm-gatewayd).",
       {}});
  page.sections.push_back(
      {"FILES",
       "",
       {{"/etc/xrm-gateway/gateway.toml", "", "The configuration file (--config)."},
        {"/etc/xrm-gateway/profiles.toml", "",
         "Device classes, KPI weights, threshold rules, bands and escalation (health.profiles)."},
        {"/var/lib/xrm-gateway", "",
         "The SQLite database and state (gateway.data_dir): registry, outbox, sequence and epoch counters."},
        {"/run/xrm-gateway/control.sock", "",
         "The control socket xrmctl(1) talks to (control.socket), mode 0660: members of the daemon's group "
         "(xrm-gateway) may use it."}}});
  page.sections.push_back({"EXIT STATUS",
                           "",
                           {{"0", "", "Success, or a clean shutdown."},
                            {"1", "", "Runtime failure (for example storage or socket errors)."},
                            {"2", "", "Usage or configuration error."}}});
  page.sections.push_back({"SEE ALSO", "xrmctl(1), xrm-gateway.toml(5), mosquitto(8)", {}});
  return page;
}

}  // namespace

std::optional<std::string> man_page(const CLI::App& cli, std::string_view name) {
  if (name == "xrm-gatewayd") return manpage::render(daemon_page(), cli);
  if (name == "xrm-gateway.toml") return config::render_reference_man(XRM_VERSION);
  return std::nullopt;
}

}  // namespace xrm::app
