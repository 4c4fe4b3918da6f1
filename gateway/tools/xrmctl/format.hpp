#pragma once
// Text building blocks for xrmctl's human output: tolerant reading of the daemon's JSON replies,
// times, and aligned tables. Later daemon versions add fields and may change a field's type, so
// nothing here throws on a missing field or an unexpected type; it prints "-" instead.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xrm::xrmctl {

// object[key], or a null value when object is not an object or has no such key. The reference
// stays valid as long as object does (or forever, for the shared null).
const nlohmann::json& field(const nlohmann::json& object, std::string_view key);

// A value as one table cell: strings as they are (control characters replaced by '?', so text a
// device supplied cannot drive the terminal), an empty string as "-", numbers in their shortest
// useful spelling (integers exactly, others to one decimal), booleans as yes/no, null as "-",
// arrays and objects as compact JSON.
std::string cell(const nlohmann::json& value);

// The value as whole milliseconds or counts, when it is a number that fits; nothing otherwise.
std::optional<std::int64_t> integer(const nlohmann::json& value);

// How long ago then_ms was, in the largest whole unit: "12s ago", "3m ago", "2h ago", "4d ago".
// A time in the future (clock skew between gateway and technician) reads "0s ago".
std::string relative_age(std::int64_t now_ms, std::int64_t then_ms);

// ISO-8601 UTC to the second: "2027-01-15T08:00:00Z".
std::string format_time_utc(std::int64_t unix_ms);

// A timestamp cell: "-" when missing or not a number, otherwise the ISO time.
std::string time_cell(const nlohmann::json& unix_ms);

// Display width of UTF-8 text in a terminal, counted as one column per code point (all we print).
std::size_t display_width(std::string_view utf8);

// Rows as left-aligned columns separated by two spaces, each column as wide as its widest cell,
// every line prefixed with indent and ended with '\n'; no trailing spaces. Short rows are fine.
std::string render_table(const std::vector<std::vector<std::string>>& rows, std::string_view indent = "");

}  // namespace xrm::xrmctl
