#pragma once
// What every fuzzer here uses to state an invariant: when it does not hold, the broken condition
// and the file:line go to stderr and the process traps, so libFuzzer records the input as a crash.
// (assert() would vanish under NDEBUG; this never does.)
#include <cstdio>
#include <string>
#include <string_view>

#define XRM_FUZZ_CHECK(cond, what)                                                                   \
  do {                                                                                               \
    if (!(cond)) {                                                                                   \
      std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, #cond, (what)); \
      __builtin_trap();                                                                              \
    }                                                                                                \
  } while (0)

namespace xrm::fuzz {

// A double-quoted string literal for s, with quotes, backslashes and control characters escaped as
// JSON and TOML both read them (\" \\ \u00XX); with escape_del, DEL (0x7F) too, which TOML requires.
inline std::string quoted(std::string_view s, bool escape_del = false) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || (escape_del && u == 0x7F)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(u));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Well-formed UTF-8 (shortest forms, no surrogates, at most U+10FFFF): what protobuf's lite
// runtime and RapidJSON's validation both accept.
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned min = 0;
    unsigned cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace xrm::fuzz
