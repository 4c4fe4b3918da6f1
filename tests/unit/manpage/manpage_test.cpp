#include <CppUTest/TestHarness.h>

#include <CLI/CLI.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "xrm/manpage/manpage.hpp"

using namespace xrm::manpage;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every line that roff takes as a request must be one the renderer means to write.
void check_only_known_requests(const std::string& page) {
  static const std::set<std::string> kKnown = {".TH", ".SH", ".SS", ".TP", ".PP", ".RS",
                                               ".RE", ".nf", ".fi", ".br", ".nh", ".ad"};
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || (line[0] != '.' && line[0] != '\'')) continue;
    const std::string request = line.substr(0, line.find(' '));
    if (kKnown.count(request) == 0) FAIL(("unexpected roff request: " + line).c_str());
  }
}

Page demo_page() {
  Page page;
  page.name = "demo";
  page.section = "1";
  page.summary = "a demo program";
  page.source = "xrm-gateway 9.9.9";
  page.description.push_back({"description", "First paragraph\nstill first.\n\n.second starts with a dot", {}});
  page.sections.push_back({"EXAMPLE", "Run it:\n\n  demo --file a\\b.txt\n  'quoted", {}});
  page.sections.push_back({"FILES", "", {{"/etc/demo.conf", "", "The file."}}});
  return page;
}

// A program with the shapes the real ones have: short and long names, defaults, a flag, a hidden
// option, a subcommand with a required positional and option, a nested subcommand, a hidden one.
struct DemoApp {
  CLI::App app{"demo: does things", "demo"};
  std::string file = "in.txt";
  bool verbose = false;
  std::string secret;
  std::string target;
  int count = 0;
  std::string mode;

  DemoApp() {
    app.require_subcommand(1);
    app.add_option("-f,--file", file, "Input file, a back\\slash path")->capture_default_str();
    app.add_flag("--verbose", verbose, "Say more");
    app.add_option("--secret-knob", secret, "Never shown")->group("");
    CLI::App* send = app.add_subcommand("send", "Send a thing somewhere");
    send->add_option("TARGET", target, "Where it goes")->required();
    send->add_option("--count", count, "How many to send")->required()->type_name("N");
    send->add_option("--mode", mode, "How")->check(CLI::IsMember({"fast", "slow"}));
    CLI::App* send_now = send->add_subcommand("now", "Send at once");
    send_now->add_flag("--dry-run", verbose, "Only pretend");
    app.add_subcommand("debug-internals", "Not for users")->group("");
  }
};

}  // namespace

TEST_GROUP(ManPageEscape){};

TEST(ManPageEscape, BackslashHyphenAndLeadingControlCharacters) {
  STRCMP_EQUAL("a\\eb", escape("a\\b").c_str());
  STRCMP_EQUAL("\\-\\-socket", escape("--socket").c_str());
  STRCMP_EQUAL("\\&.TH not a request", escape(".TH not a request").c_str());
  STRCMP_EQUAL("\\&'quoted", escape("'quoted").c_str());
  STRCMP_EQUAL("one\n\\&.two\nthree.", escape("one\n.two\nthree.").c_str());
  STRCMP_EQUAL("mid.dle it's", escape("mid.dle it's").c_str());
}

TEST_GROUP(ManPageRender){};

TEST(ManPageRender, HeaderHasNoDateAndNameLine) {
  DemoApp demo;
  const std::string page = render(demo_page(), demo.app);
  CHECK_EQUAL(0u, page.find(".TH \"DEMO\" \"1\" \"\" \"xrm\\-gateway 9.9.9\" \"XRM edge gateway\"\n"));
  CHECK(contains(page, ".nh\n.ad l\n.SH NAME\ndemo \\- a demo program\n"));
  check_only_known_requests(page);
}

TEST(ManPageRender, OptionsWithDescriptionsTypesAndDefaults) {
  DemoApp demo;
  const std::string page = render(demo_page(), demo.app);
  CHECK(contains(page, ".SH OPTIONS\n"));
  CHECK(contains(
      page, ".TP\n\\fB\\-f\\fR, \\fB\\-\\-file\\fR \\fITEXT\\fR\nInput file, a back\\eslash path. Default: in.txt.\n"));
  CHECK(contains(page, ".TP\n\\fB\\-\\-verbose\\fR\nSay more\n"));
  CHECK(contains(page, "\\fB\\-h\\fR, \\fB\\-\\-help\\fR"));
}

TEST(ManPageRender, HiddenOptionsAndSubcommandsAreAbsent) {
  DemoApp demo;
  const std::string page = render(demo_page(), demo.app);
  CHECK_FALSE(contains(page, "secret"));
  CHECK_FALSE(contains(page, "Never shown"));
  CHECK_FALSE(contains(page, "debug"));
}

TEST(ManPageRender, SubcommandsRecursivelyWithTheirOptionsAndPositionals) {
  DemoApp demo;
  const std::string page = render(demo_page(), demo.app);
  CHECK(contains(page, ".SH COMMANDS\n.SS \"send\"\nSend a thing somewhere\n"));
  CHECK(contains(page, ".TP\n\\fITARGET\\fR\nWhere it goes\n"));
  CHECK(contains(page, ".TP\n\\fB\\-\\-count\\fR \\fIN\\fR\nHow many to send. Required.\n"));
  CHECK(contains(page, ".TP\n\\fB\\-\\-mode\\fR \\fITEXT\\fR\nHow. Value: {fast,slow}.\n"));
  CHECK(contains(page, ".SS \"send now\"\nSend at once\n.TP\n\\fB\\-\\-dry\\-run\\fR\nOnly pretend\n"));
  // A subcommand's own --help repeats the program's and is listed once, under OPTIONS.
  const std::string commands = page.substr(page.find(".SH COMMANDS"));
  CHECK_FALSE(contains(commands, "\\-\\-help"));
}

TEST(ManPageRender, SynopsisShowsRequiredOptionsAndPositionals) {
  DemoApp demo;
  const std::string page = render(demo_page(), demo.app);
  const std::string synopsis =
      page.substr(page.find(".SH SYNOPSIS\n"), page.find(".SH DESCRIPTION") - page.find(".SH SYNOPSIS\n"));
  // require_subcommand(1): no line for the bare program.
  CHECK_FALSE(contains(synopsis, "\n\\fBdemo\\fR [\\fIoptions\\fR]\n"));
  CHECK(contains(synopsis,
                 "\\fBdemo\\fR \\fBsend\\fR \\fB\\-\\-count\\fR \\fIN\\fR [\\fIoptions\\fR] [\\fIcommand\\fR] "
                 "\\fITARGET\\fR\n.br\n"));
  CHECK(contains(synopsis, "\\fBdemo\\fR \\fBsend\\fR \\fBnow\\fR [\\fIoptions\\fR]\n.br\n"));
}

TEST(ManPageRender, ProseIsEscapedAndSplitIntoParagraphsAndExamples) {
  DemoApp demo;
  const std::string page = render(demo_page(), demo.app);
  CHECK(contains(page, ".SH \"DESCRIPTION\"\nFirst paragraph\nstill first.\n.PP\n\\&.second starts with a dot\n"));
  CHECK(contains(page, ".SH \"EXAMPLE\"\nRun it:\n.PP\n.RS 4\n.nf\ndemo \\-\\-file a\\eb.txt\n\\&'quoted\n.fi\n.RE\n"));
  CHECK(contains(page, ".SH \"FILES\"\n.TP\n\\fB/etc/demo.conf\\fR\nThe file.\n"));
  // Sections the App gives come before the page's closing sections.
  CHECK(page.find(".SH COMMANDS") < page.find(".SH \"EXAMPLE\""));
  CHECK(page.find(".SH \"DESCRIPTION\"") < page.find(".SH OPTIONS"));
}

TEST(ManPageRender, PageWithoutAnApp) {
  Page page = demo_page();
  page.section = "5";
  const std::string text = render(page);
  CHECK_EQUAL(0u, text.find(".TH \"DEMO\" \"5\" \"\""));
  CHECK_FALSE(contains(text, "SYNOPSIS"));
  CHECK(contains(text, ".SH \"FILES\"\n"));
  check_only_known_requests(text);
}

TEST(ManPageRender, QuotesInMacroArguments) {
  Page page = demo_page();
  page.sections.push_back({"say \"hi\"", "x", {}});
  STRCMP_CONTAINS(".SH \"SAY \\(dqHI\\(dq\"\n", render(page).c_str());
}

TEST_GROUP(ManPageRequested){};

TEST(ManPageRequested, FindsTheOptionAndItsValue) {
  const char* none[] = {"prog", "status", "--json"};
  CHECK_FALSE(requested(3, none).has_value());
  const char* bare[] = {"prog", "--print-man-page"};
  STRCMP_EQUAL("", requested(2, bare).value_or("?").c_str());
  const char* valued[] = {"prog", "--json", "--print-man-page", "xrm-gateway.toml"};
  STRCMP_EQUAL("xrm-gateway.toml", requested(4, valued).value_or("?").c_str());
  const char* equals[] = {"prog", "--print-man-page=prog"};
  STRCMP_EQUAL("prog", requested(2, equals).value_or("?").c_str());
  const char* next_option[] = {"prog", "--print-man-page", "--json"};
  STRCMP_EQUAL("", requested(3, next_option).value_or("?").c_str());
  const char* after_dashes[] = {"prog", "show", "--", "--print-man-page"};
  CHECK_FALSE(requested(4, after_dashes).has_value());
  const char* prefix[] = {"prog", "--print-man-pages"};
  CHECK_FALSE(requested(2, prefix).has_value());
}
