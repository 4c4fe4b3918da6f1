#pragma once
// A tiny writer for the flat JSON objects devices send: string keys, and values that are
// integers, finite doubles (shortest text that reads back to the same double) or strings.
// No dependencies, no allocation beyond the output string.
#include <cstdint>
#include <string>
#include <string_view>

namespace xrm::device {

class JsonObjectWriter {
 public:
  JsonObjectWriter() { out_.push_back('{'); }

  void add_uint(std::string_view key, std::uint64_t value);
  // `value` must be finite (the caller checks: JSON has no NaN or infinity).
  void add_double(std::string_view key, double value);
  void add_string(std::string_view key, std::string_view value);
  // The finished object; the writer must not be used afterwards.
  std::string finish();

 private:
  void key(std::string_view k);
  std::string out_;
  bool first_ = true;
};

// Appends `s` as a JSON string literal: quotes, backslash and control characters escaped
// (\b \f \n \r \t, others as \u00XX); other bytes are copied unchanged.
void append_json_string(std::string& out, std::string_view s);
// Appends the shortest decimal text that parses back to exactly `value` (finite only).
void append_json_double(std::string& out, double value);

}  // namespace xrm::device
