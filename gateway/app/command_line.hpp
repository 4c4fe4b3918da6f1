#pragma once
// xrm-gatewayd's command line, declared once: run() parses with it, --help prints it and the man
// page xrm-gatewayd(8) is rendered from it (tests/unit/manpage checks they agree).
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace xrm::app {

struct CommandLine {
  std::string config_path = "/etc/xrm-gateway/gateway.toml";
  bool check_only = false;
  bool print_reference = false;
  bool show_version = false;
  std::string man_page;  // --print-man-page NAME (hidden; used by the build)
};

// Declares the options on cli, bound to line: line must outlive every parse of cli.
void declare_options(CLI::App& cli, CommandLine& line);

// The page --print-man-page NAME prints: "xrm-gatewayd" -> xrm-gatewayd(8) rendered from cli,
// "xrm-gateway.toml" -> xrm-gateway.toml(5) from the option table; nullopt for any other name.
std::optional<std::string> man_page(const CLI::App& cli, std::string_view name);

}  // namespace xrm::app
