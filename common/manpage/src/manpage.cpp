#include "xrm/manpage/manpage.hpp"

#include <CLI/CLI.hpp>
#include <sstream>

namespace xrm::manpage {
namespace {

// An argument of a macro line, in double quotes: a quote inside becomes \(dq.
std::string arg(std::string_view text) {
  std::string out = "\"";
  for (char c : escape(text)) {
    if (c == '"') {
      out += "\\(dq";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string bold(std::string_view text) { return "\\fB" + escape(text) + "\\fR"; }
std::string italic(std::string_view text) { return "\\fI" + escape(text) + "\\fR"; }

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return lines;
}

std::string trim(std::string_view s) {
  const std::size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const std::size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// Plain text as paragraphs: blank lines separate them; an all-indented paragraph is an example.
void put_text(std::ostream& out, std::string_view text) {
  std::vector<std::vector<std::string>> paragraphs(1);
  for (const std::string& line : lines_of(text)) {
    if (trim(line).empty()) {
      if (!paragraphs.back().empty()) paragraphs.emplace_back();
    } else {
      paragraphs.back().push_back(line);
    }
  }
  bool first = true;
  for (const auto& p : paragraphs) {
    if (p.empty()) continue;
    bool example = true;
    for (const auto& line : p) example = example && line.rfind("  ", 0) == 0;
    if (example) {
      out << ".PP\n.RS 4\n.nf\n";
      for (const auto& line : p) out << escape(std::string_view(line).substr(2)) << "\n";
      out << ".fi\n.RE\n";
    } else {
      if (!first) out << ".PP\n";
      for (const auto& line : p) out << escape(trim(line)) << "\n";
    }
    first = false;
  }
}

void put_items(std::ostream& out, const std::vector<Item>& items) {
  for (const Item& item : items) {
    out << ".TP\n" << bold(item.term);
    if (!item.note.empty()) out << " " << italic(item.note);
    out << "\n";
    put_text(out, item.text);
  }
}

void put_sections(std::ostream& out, const std::vector<Section>& sections) {
  for (const Section& s : sections) {
    out << ".SH " << arg(upper(s.title)) << "\n";
    put_text(out, s.text);
    put_items(out, s.items);
  }
}

void put_header(std::ostream& out, const Page& page) {
  out << ".TH " << arg(upper(page.name)) << " " << arg(page.section) << " \"\" " << arg(page.source) << " "
      << arg(page.manual) << "\n"
      << ".nh\n"  // no hyphenation: options, paths and ids stay whole (and copyable)
      << ".ad l\n"
      << ".SH NAME\n"
      << escape(page.name) << " \\- " << escape(page.summary) << "\n";
}

bool shown(const CLI::Option* opt) { return !opt->get_group().empty(); }
bool shown_app(const CLI::App* app) { return !app->get_group().empty(); }

std::vector<const CLI::App*> subcommands_of(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* sub) { return shown_app(sub); });
}

// "TEXT:{a,b}" -> type "TEXT", constraint "{a,b}".
std::pair<std::string, std::string> split_type(const CLI::Option* opt) {
  const std::string full = opt->get_type_name();
  const std::size_t colon = full.find(':');
  if (colon == std::string::npos) return {full, {}};
  return {full.substr(0, colon), full.substr(colon + 1)};
}

bool takes_value(const CLI::Option* opt) { return opt->get_type_size_max() > 0; }

// The help flag of a subcommand repeats the program's; it is listed once, under OPTIONS.
bool is_help(const CLI::App& app, const CLI::Option* opt) {
  return opt == app.get_help_ptr() || opt == app.get_help_all_ptr();
}

// -c, --config FILE as roff.
std::string option_tag(const CLI::Option* opt) {
  std::string tag;
  for (const auto& s : opt->get_snames()) tag += (tag.empty() ? "" : ", ") + bold("-" + s);
  for (const auto& l : opt->get_lnames()) tag += (tag.empty() ? "" : ", ") + bold("--" + l);
  if (takes_value(opt)) {
    const std::string type = split_type(opt).first;
    if (!type.empty()) tag += " " + italic(type);
  }
  return tag;
}

std::string preferred_name(const CLI::Option* opt) {
  if (!opt->get_lnames().empty()) return "--" + opt->get_lnames().front();
  return "-" + opt->get_snames().front();
}

// Appends a sentence, ending the text before it with a full stop if it has none.
void add_sentence(std::string& text, const std::string& sentence) {
  if (!text.empty() && text.find_last_of(".!?:") != text.size() - 1) text += '.';
  text += (text.empty() ? "" : " ") + sentence;
}

std::string option_text(const CLI::Option* opt, bool positional) {
  std::string text = opt->get_description();
  const std::string constraint = split_type(opt).second;
  if (!constraint.empty()) add_sentence(text, "Value: " + constraint + ".");
  if (!opt->get_default_str().empty()) add_sentence(text, "Default: " + opt->get_default_str() + ".");
  if (!opt->get_envname().empty()) add_sentence(text, "Environment: " + opt->get_envname() + ".");
  if (opt->get_required() && !positional) add_sentence(text, "Required.");
  if (opt->get_expected_max() > 1) add_sentence(text, "May be repeated.");
  return text;
}

void put_option(std::ostream& out, const CLI::Option* opt) {
  out << ".TP\n";
  if (opt->nonpositional()) {
    out << option_tag(opt) << "\n";
    put_text(out, option_text(opt, false));
  } else {
    out << italic(opt->get_name(true)) << "\n";
    put_text(out, option_text(opt, true));
  }
}

// One SYNOPSIS line per runnable command: path, required options, [options], positionals.
void put_synopsis(std::ostream& out, const CLI::App& app, const std::string& path) {
  const auto subs = subcommands_of(app);
  if (subs.empty() || app.get_require_subcommand_min() == 0) {
    std::string line = path;
    bool optional = false;
    std::string positionals;
    for (const CLI::Option* opt : app.get_options([](const CLI::Option* o) { return shown(o); })) {
      if (opt->nonpositional()) {
        if (!opt->get_required()) {
          optional = true;
          continue;
        }
        line += " " + bold(preferred_name(opt));
        if (takes_value(opt)) line += " " + italic(split_type(opt).first);
      } else {
        std::string p = italic(opt->get_name(true));
        if (opt->get_expected_max() > 1) p += "\\ .\\|.\\|.";
        positionals += " " + (opt->get_required() ? p : "[" + p + "]");
      }
    }
    if (optional) line += " [" + italic("options") + "]";
    if (!subs.empty()) line += " [" + italic("command") + "]";
    out << line << positionals << "\n.br\n";
  }
  for (const CLI::App* sub : subs) put_synopsis(out, *sub, path + " " + bold(sub->get_name()));
}

void put_command(std::ostream& out, const CLI::App& app, const std::string& path) {
  out << ".SS " << arg(path) << "\n";
  put_text(out, app.get_description());
  for (const CLI::Option* opt : app.get_options([](const CLI::Option* o) { return shown(o); })) {
    if (!is_help(app, opt)) put_option(out, opt);
  }
  for (const CLI::App* sub : subcommands_of(app)) put_command(out, *sub, path + " " + sub->get_name());
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    line_start = c == '\n';
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render(const Page& page, const CLI::App& app) {
  std::ostringstream out;
  put_header(out, page);
  out << ".SH SYNOPSIS\n";
  put_synopsis(out, app, bold(page.name));
  put_sections(out, page.description);
  const auto options = app.get_options([](const CLI::Option* o) { return shown(o); });
  bool any = false;
  for (const CLI::Option* opt : options) {
    if (!opt->nonpositional()) continue;
    if (!any) out << ".SH OPTIONS\n";
    any = true;
    put_option(out, opt);
  }
  bool positionals = false;
  for (const CLI::Option* opt : options) {
    if (opt->nonpositional()) continue;
    if (!positionals) out << ".SH ARGUMENTS\n";
    positionals = true;
    put_option(out, opt);
  }
  const auto subs = subcommands_of(app);
  if (!subs.empty()) {
    out << ".SH COMMANDS\n";
    for (const CLI::App* sub : subs) put_command(out, *sub, sub->get_name());
  }
  put_sections(out, page.sections);
  return out.str();
}

std::string render(const Page& page) {
  std::ostringstream out;
  put_header(out, page);
  put_sections(out, page.description);
  put_sections(out, page.sections);
  return out.str();
}

std::optional<std::string> requested(int argc, const char* const* argv) {
  const std::string_view option = kOption;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") break;
    if (a == option) {
      if (i + 1 < argc && argv[i + 1][0] != '-') return std::string(argv[i + 1]);
      return std::string();
    }
    if (a.size() > option.size() && a.substr(0, option.size()) == option && a[option.size()] == '=') {
      return std::string(a.substr(option.size() + 1));
    }
  }
  return std::nullopt;
}

std::optional<int> print_if_requested(int argc, const char* const* argv, const Page& page, const CLI::App& app,
                                      std::ostream& out, std::ostream& err) {
  const auto name = requested(argc, argv);
  if (!name) return std::nullopt;
  if (!name->empty() && *name != page.name) {
    err << page.name << ": " << kOption << ": no page \"" << *name << "\" (" << page.name << ")\n";
    return 2;  // usage error (xrm/common/exit_codes.hpp)
  }
  out << render(page, app);
  return 0;
}

}  // namespace xrm::manpage
