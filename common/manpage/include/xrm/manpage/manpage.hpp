#pragma once
// Man pages in roff (man(7) macros) for the programs of the tree. The options, positionals and
// subcommands come from the same CLI::App that parses the command line and prints --help, so the
// page cannot drift from them; what an App cannot hold (description, files, exit status...) comes
// from a Page. Each program prints its page with the hidden option --print-man-page and the build
// turns that into name.section.gz (cmake/XrmManPages.cmake). No date in .TH: the pages are
// reproducible.
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace xrm::manpage {

// The hidden option every program takes (CLI11 group "": absent from --help and from the page).
inline constexpr const char* kOption = "--print-man-page";

// One term of a definition list (.TP): term in bold, note in italics after it, then text.
struct Item {
  std::string term;
  std::string note;
  std::string text;
};

// A section (.SH TITLE) given as plain text, escaped here. Paragraphs are separated by blank lines;
// a paragraph whose every line starts with two spaces is an example, printed verbatim and indented.
// Items follow the text as a definition list.
struct Section {
  std::string title;
  std::string text;
  std::vector<Item> items;
};

struct Page {
  std::string name;     // "xrmctl": .TH XRMCTL, and NAME
  std::string section;  // "1", "5", "8"
  std::string summary;  // NAME line: name \- summary
  std::string source;   // "xrm-gateway 0.1.0"
  std::string manual = "XRM edge gateway";
  std::vector<Section> description;  // after SYNOPSIS, before OPTIONS and COMMANDS (e.g. DESCRIPTION)
  std::vector<Section> sections;     // after them: ENVIRONMENT, FILES, EXIT STATUS, SEE ALSO...
};

// The page of the program app parses: NAME, SYNOPSIS (one line per command, required options and
// positionals shown), page.description, OPTIONS (app's options outside group ""), COMMANDS (each
// subcommand, recursively, with its options and positionals), page.sections.
std::string render(const Page& page, const CLI::App& app);

// A page without a command line (a file format): NAME, then page.description and page.sections.
std::string render(const Page& page);

// Text for a roff text line: backslash -> \e, '-' -> \- (every hyphen: options stay copyable),
// a leading '.' or '\'' -> \&. or \&'. Newlines are kept; each resulting line is guarded.
std::string escape(std::string_view text);

// If argv asks for a page (--print-man-page [NAME] or --print-man-page=NAME, anywhere before "--"),
// the NAME given ("" when none). Checked before parsing, so that programs requiring a subcommand
// print their page without one.
std::optional<std::string> requested(int argc, const char* const* argv);

// The whole --print-man-page handling of a program with one page: when argv asks for a page,
// prints page (rendered from app) on out and returns 0, or for a NAME other than page.name says
// so on err and returns 2; otherwise returns nothing and the program parses as usual.
std::optional<int> print_if_requested(int argc, const char* const* argv, const Page& page, const CLI::App& app,
                                      std::ostream& out, std::ostream& err);

}  // namespace xrm::manpage
