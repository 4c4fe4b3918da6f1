#pragma once
// The option table: every configuration key declared once, with its type, default, description
// and whether SIGHUP reloads it. The loader parses with it, --help prints it, and the reference in
// docs/configuration.md is generated from it (a test checks the doc is current).
#include <span>
#include <string>
#include <string_view>

#include "xrm/config/config.hpp"

namespace xrm::config {

enum class OptionType { kString, kId, kUrl, kPath, kDuration, kSize, kEnum, kLogLevel, kCount };

struct OptionSpec {
  std::string_view section;
  std::string_view key;
  OptionType type;
  std::string_view default_value;  // spelled as in the file; "" with required = true: no default
  bool required;
  bool reloadable;                 // applied by SIGHUP without a restart
  std::string_view choices;        // kEnum: "a|b|c"
  std::string_view description;
  // Stores a checked value. For kDuration/kSize/kLogLevel the text has been validated already.
  Status (*apply)(Config&, std::string_view text);

  std::string name() const { return std::string(section) + "." + std::string(key); }
};

std::span<const OptionSpec> option_table();
const OptionSpec* find_option(std::string_view section, std::string_view key);
std::string_view type_name(OptionType type);

// The table as Markdown (docs/configuration.md), as plain text (for --help) and as the man page
// xrm-gateway.toml(5) in roff (xrm-gatewayd --print-man-page xrm-gateway.toml).
std::string render_reference_markdown();
std::string render_reference_text();
std::string render_reference_man(std::string_view version);

}  // namespace xrm::config
