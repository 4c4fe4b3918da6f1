#pragma once
// What a TOML value is, in words, for errors like "expected a string, found an integer". Shared
// by the configuration, profiles and devsim scenario loaders; header-only: include it only from
// targets that link toml++ (xrm_common itself does not).
#include <string_view>
#include <toml++/toml.h>

namespace xrm {

inline std::string_view toml_node_kind(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

}  // namespace xrm
