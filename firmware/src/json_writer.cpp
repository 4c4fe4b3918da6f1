#include "xrm/device/json_writer.hpp"

#include <charconv>
#include <utility>

namespace xrm::device {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void append_json_double(std::string& out, double value) {
  char buf[32];
  // Shortest round-trip form (C++17 <charconv>); e.g. 21 -> "21", 0.1 -> "0.1", 1e300 -> "1e+300",
  // all of them valid JSON numbers.
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) {
    out += "0";
    return;
  }
  out.append(buf, end);
}

void JsonObjectWriter::key(std::string_view k) {
  if (!first_) out_.push_back(',');
  first_ = false;
  append_json_string(out_, k);
  out_.push_back(':');
}

void JsonObjectWriter::add_uint(std::string_view k, std::uint64_t value) {
  key(k);
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  out_.append(buf, end);
}

void JsonObjectWriter::add_double(std::string_view k, double value) {
  key(k);
  append_json_double(out_, value);
}

void JsonObjectWriter::add_string(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(out_, value);
}

std::string JsonObjectWriter::finish() {
  out_.push_back('}');
  return std::move(out_);
}

}  // namespace xrm::device
