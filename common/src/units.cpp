#include "xrm/common/units.hpp"

#include <array>
#include <cctype>
#include <cstdio>
#include <limits>
#include <utility>

namespace xrm {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads the leading decimal number of text into value; returns the characters read (0: none or
// overflow).
std::size_t read_number(std::string_view text, std::uint64_t& value) {
  value = 0;
  std::size_t i = 0;
  while (i < text.size() && is_digit(text[i])) {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return 0;
    value = value * 10 + digit;
    ++i;
  }
  return i;
}

bool mul_overflows(std::uint64_t a, std::uint64_t b) { return b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b; }

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 5> kUnits = {
      {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (text.empty()) return Status::invalid_argument("empty duration; expected e.g. \"30s\", \"5m\", \"7d\"");
  constexpr std::uint64_t kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint64_t n = 0;
    const std::size_t digits = read_number(text.substr(i), n);
    if (digits == 0) {
      return Status::invalid_argument("bad duration " + quoted + "; expected NUMBER UNIT parts such as \"30s\" or \"1h30m\"");
    }
    i += digits;
    std::size_t unit_len = 0;
    while (i + unit_len < text.size() && std::isalpha(static_cast<unsigned char>(text[i + unit_len]))) ++unit_len;
    const std::string_view unit = text.substr(i, unit_len);
    std::uint64_t factor = 0;
    for (const auto& [name, f] : kUnits) {
      if (unit == name) factor = f;
    }
    if (factor == 0) {
      return Status::invalid_argument("bad duration " + quoted + ": unit \"" + std::string(unit) +
                                      "\" is not one of ms, s, m, h, d");
    }
    if (mul_overflows(n, factor) || total + n * factor > kMax) {
      return Status::invalid_argument("duration " + quoted + " is too long");
    }
    total += n * factor;
    i += unit_len;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count());
  if (ms == 0) return "0s";
  static constexpr std::array<std::pair<const char*, std::uint64_t>, 5> kUnits = {
      {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}}};
  std::string out;
  for (const auto& [name, f] : kUnits) {
    if (ms >= f) {
      out += std::to_string(ms / f) + name;
      ms %= f;
    }
  }
  return out;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 8> kUnits = {
      {{"", 1},
       {"B", 1},
       {"kB", 1000},
       {"MB", 1000 * 1000},
       {"GB", 1000ULL * 1000 * 1000},
       {"KiB", 1024},
       {"MiB", 1024 * 1024},
       {"GiB", 1024ULL * 1024 * 1024}}};
  const std::string quoted = "\"" + std::string(text) + "\"";
  std::uint64_t n = 0;
  const std::size_t digits = read_number(text, n);
  if (digits == 0) return Status::invalid_argument("bad size " + quoted + "; expected e.g. \"16KiB\", \"256MiB\", \"1GB\"");
  const std::string_view unit = text.substr(digits);
  for (const auto& [name, f] : kUnits) {
    if (unit == name) {
      if (mul_overflows(n, f)) return Status::invalid_argument("size " + quoted + " is too large");
      return n * f;
    }
  }
  return Status::invalid_argument("bad size " + quoted + ": unit \"" + std::string(unit) +
                                  "\" is not one of B, kB, MB, GB, KiB, MiB, GiB");
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::pair<const char*, std::uint64_t>, 3> kUnits = {
      {{"GiB", 1024ULL * 1024 * 1024}, {"MiB", 1024 * 1024}, {"KiB", 1024}}};
  for (const auto& [name, f] : kUnits) {
    if (bytes != 0 && bytes % f == 0) return std::to_string(bytes / f) + name;
  }
  return std::to_string(bytes) + "B";
}

std::string id_error(std::string_view id) {
  if (id.empty()) return "is empty";
  if (id.size() > 64) return "is " + std::to_string(id.size()) + " characters long (at most 64)";
  for (std::size_t i = 0; i < id.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    if (!(std::isalnum(c) && c < 0x80) && c != '.' && c != '_' && c != '-') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", c);
      return "has character " + std::string(buf) + " at position " + std::to_string(i + 1) +
             " (allowed: A-Z a-z 0-9 . _ -)";
    }
  }
  return {};
}

bool is_valid_id(std::string_view id) { return id_error(id).empty(); }

std::string device_id_error(std::string_view id) {
  const std::string why = id_error(id);
  return why.empty() ? why : "device id \"" + std::string(id) + "\": " + why;
}

}  // namespace xrm
