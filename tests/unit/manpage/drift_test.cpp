// The man pages against the tables they are generated from: every option a program's --help shows
// and every configuration key must be in its page. The pages come from the same App and table
// (--print-man-page), so these fail only when the renderer loses something.
#include <CppUTest/TestHarness.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "xrm/common/clock.hpp"
#include "xrm/config/options.hpp"
#include "xrm/manpage/manpage.hpp"
#include "xrmctl/cli.hpp"

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Every -x and --name in a help text (option lists and descriptions that mention options).
std::set<std::string> option_names(const std::string& help) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < help.size(); ++i) {
    const bool word_start = i == 0 || help[i - 1] == ' ' || help[i - 1] == ',' || help[i - 1] == '\n';
    if (help[i] != '-' || !word_start) continue;
    std::size_t end = i + 1;
    if (end < help.size() && help[end] == '-') ++end;
    if (end >= help.size() || !((help[end] >= 'a' && help[end] <= 'z') || (help[end] >= 'A' && help[end] <= 'Z'))) {
      continue;
    }
    while (end < help.size() && is_name_char(help[end])) ++end;
    names.insert(help.substr(i, end - i));
    i = end;
  }
  return names;
}

// The names listed under "Subcommands:" in a CLI11 help text.
std::vector<std::string> subcommand_names(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream in(help);
  bool listing = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "Subcommands:") {
      listing = true;
    } else if (listing && line.rfind("  ", 0) == 0) {
      std::istringstream words(line);
      std::string name;
      words >> name;
      names.push_back(name);
    } else {
      listing = false;
    }
  }
  return names;
}

struct Xrmctl {
  std::ostringstream out;
  std::ostringstream err;
  xrm::FakeClock clock;
  int calls = 0;

  int run(std::vector<std::string> args) {
    args.insert(args.begin(), "xrmctl");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    out.str("");
    err.str("");
    auto send = [this](const xrm::xrmctl::Request&) -> xrm::Result<nlohmann::json> {
      ++calls;
      return nlohmann::json::object();
    };
    return xrm::xrmctl::run(static_cast<int>(argv.size()), argv.data(), send, clock, out, err);
  }
};

// Checks that every option in `xrmctl PATH --help` and every subcommand is in page, recursively.
void check_xrmctl_help(Xrmctl& xrmctl, std::vector<std::string> path, const std::string& page, int& checked) {
  std::vector<std::string> args = path;
  args.push_back("--help");
  CHECK_EQUAL(0, xrmctl.run(args));
  const std::string help = xrmctl.out.str();
  CHECK(!help.empty());
  for (const std::string& name : option_names(help)) {
    if (!contains(page, xrm::manpage::escape(name))) FAIL(("xrmctl(1) lacks " + name).c_str());
    ++checked;
  }
  for (const std::string& sub : subcommand_names(help)) {
    std::string command;
    for (const auto& p : path) command += p + " ";
    command += sub;
    const std::string section = ".SS \"" + xrm::manpage::escape(command) + "\"\n";
    if (!contains(page, section)) FAIL(("xrmctl(1) lacks " + section).c_str());
    std::vector<std::string> deeper = path;
    deeper.push_back(sub);
    check_xrmctl_help(xrmctl, deeper, page, checked);
  }
}

}  // namespace

TEST_GROUP(ManPageDrift){};

TEST(ManPageDrift, EveryConfigKeyWithItsDescriptionIsInTheTomlPage) {
  const std::string page = xrm::config::render_reference_man("9.9.9");
  CHECK_EQUAL(0u, page.find(".TH \"XRM\\-GATEWAY.TOML\" \"5\" \"\" \"xrm\\-gateway 9.9.9\""));
  for (const auto& spec : xrm::config::option_table()) {
    const std::string term = ".TP\n\\fB" + xrm::manpage::escape(spec.name()) + "\\fR \\fI(";
    if (!contains(page, term)) FAIL(("xrm-gateway.toml(5) lacks " + spec.name()).c_str());
    if (!contains(page, xrm::manpage::escape(spec.description))) {
      FAIL(("xrm-gateway.toml(5) lacks the description of " + spec.name()).c_str());
    }
    if (!spec.required && !contains(page, xrm::manpage::escape(spec.default_value))) {
      FAIL(("xrm-gateway.toml(5) lacks the default of " + spec.name()).c_str());
    }
  }
  STRCMP_CONTAINS("id = \"gw\\-01\"", page.c_str());
  STRCMP_CONTAINS("url = \"ssl://central.example.com:8883\"", page.c_str());
}

TEST(ManPageDrift, EveryOptionAndCommandOfXrmctlHelpIsInItsPage) {
  Xrmctl xrmctl;
  CHECK_EQUAL(0, xrmctl.run({"--print-man-page"}));
  const std::string page = xrmctl.out.str();
  CHECK_EQUAL(0u, page.find(".TH \"XRMCTL\" \"1\" \"\""));
  int checked = 0;
  check_xrmctl_help(xrmctl, {}, page, checked);
  CHECK(checked > 20);  // the walk found the subcommands' options, not just the global ones
  CHECK_FALSE(contains(page, "print\\-man\\-page"));
  CHECK_EQUAL(0, xrmctl.calls);
}

TEST(ManPageDrift, XrmctlPrintsItsPageWithoutAVerbAndRefusesOtherPages) {
  Xrmctl xrmctl;
  CHECK_EQUAL(0, xrmctl.run({"--print-man-page", "xrmctl"}));
  STRCMP_CONTAINS(".SH \"ENVIRONMENT\"\n.TP\n\\fBXRMCTL_SOCKET\\fR", xrmctl.out.str().c_str());
  CHECK_EQUAL(2, xrmctl.run({"--print-man-page", "xrm-tap"}));
  STRCMP_CONTAINS("no page \"xrm-tap\"", xrmctl.err.str().c_str());
  CHECK_EQUAL(0, xrmctl.run({"--help"}));
  CHECK_FALSE(contains(xrmctl.out.str(), "print-man-page"));
}

TEST(ManPageDrift, EveryOptionOfXrmGatewaydHelpIsInItsPage) {
  CLI::App cli{"xrm-gatewayd", "xrm-gatewayd"};
  xrm::app::CommandLine line;
  xrm::app::declare_options(cli, line);
  const std::string help = cli.help();
  const auto page = xrm::app::man_page(cli, "xrm-gatewayd");
  CHECK(page.has_value());
  CHECK_EQUAL(0u, page->find(".TH \"XRM\\-GATEWAYD\" \"8\" \"\""));
  // The help's footer lists the configuration keys, which are in xrm-gateway.toml(5): only the
  // options part is the (8) page's.
  const std::set<std::string> names = option_names(help.substr(0, help.find("Configuration keys")));
  CHECK(names.size() >= 6);
  for (const std::string& name : names) {
    if (!contains(*page, xrm::manpage::escape(name))) FAIL(("xrm-gatewayd(8) lacks " + name).c_str());
  }
  CHECK_FALSE(contains(help, "print-man-page"));
  CHECK_FALSE(contains(*page, "print\\-man\\-page"));
}

TEST(ManPageDrift, XrmGatewaydNamesItsTwoPages) {
  CLI::App cli{"xrm-gatewayd", "xrm-gatewayd"};
  xrm::app::CommandLine line;
  xrm::app::declare_options(cli, line);
  CHECK(xrm::app::man_page(cli, "xrm-gateway.toml") == xrm::config::render_reference_man(XRM_VERSION));
  CHECK_FALSE(xrm::app::man_page(cli, "xrmctl").has_value());
  const char* argv[] = {"xrm-gatewayd", "--print-man-page", "xrm-gateway.toml"};
  cli.parse(3, argv);
  STRCMP_EQUAL("xrm-gateway.toml", line.man_page.c_str());
}

TEST(ManPageDrift, XrmctlPageDoesNotDependOnTheEnvironment) {
  Xrmctl xrmctl;
  unsetenv("XRMCTL_SOCKET");
  CHECK_EQUAL(0, xrmctl.run({"--print-man-page"}));
  const std::string plain = xrmctl.out.str();
  setenv("XRMCTL_SOCKET", "/tmp/elsewhere.sock", 1);
  CHECK_EQUAL(0, xrmctl.run({"--print-man-page"}));
  unsetenv("XRMCTL_SOCKET");
  CHECK(plain == xrmctl.out.str());
  STRCMP_CONTAINS("Default: /run/xrm\\-gateway/control.sock.", plain.c_str());
}
