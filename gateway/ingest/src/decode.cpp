#include "xrm/ingest/decode.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

namespace xrm::ingest {
namespace {

// In place (key strings stay in our buffer, so names can point at them), UTF-8 checked, without
// recursion, and numbers handed over as text: RapidJSON 1.1's kParseFullPrecisionFlag conversion
// crashes on crafted numbers (e.g. 128.74836467836484838364836483643636483648e-336 overflows an
// index in GetCachedPower10), and its default conversion is not correctly rounded, so the text goes
// to std::from_chars instead. The grammar check (NaN/Infinity refused, 1e400 "too big") stays.
constexpr unsigned kJsonFlags = rapidjson::kParseInsituFlag | rapidjson::kParseValidateEncodingFlag |
                                rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;

// Below this many metrics duplicates are found by a linear scan; from there on by a hash table.
constexpr std::size_t kLinearScanMax = 16;
// Longest name (in bytes) quoted in a reason before it is cut.
constexpr std::size_t kMaxQuoted = 64;
// The JSON buffer is reserved up to this size at once; larger limits grow it on demand.
constexpr std::size_t kMaxReserve = 1 << 20;
constexpr std::size_t kMaxTypeLength = 64;
// Integers up to 2^53 convert to double exactly.
constexpr std::uint64_t kMaxExactInteger = std::uint64_t{1} << 53;

constexpr const char* kSeqRule = "seq must be an integer from 0 to 4294967295";
constexpr const char* kTsRule = "ts must be an integer from 0 to 18446744073709551615";
constexpr const char* kTypeRule = "1 to 64 characters of a-z 0-9 _";

Status invalid(std::string msg) { return Status::invalid_argument(std::move(msg)); }

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// JSON when the first byte that is not JSON whitespace is '{' (see PayloadDecoder).
bool is_json(std::string_view payload) {
  for (char c : payload) {
    if (c == '{') return true;
    if (!is_json_space(c)) return false;
  }
  return false;
}

// `s` in double quotes for a one-line reason: quotes, backslashes and control characters escaped,
// cut after kMaxQuoted bytes (at a UTF-8 character boundary; the input is valid UTF-8).
std::string quoted(std::string_view s) {
  std::size_t n = s.size();
  const bool cut = n > kMaxQuoted;
  if (cut) {
    n = kMaxQuoted;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  }
  std::string out = "\"";
  for (char c : s.substr(0, n)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(u));
      out += buf;
    } else {
      out += c;
    }
  }
  out += cut ? "\"..." : "\"";
  return out;
}

bool valid_type(std::string_view t) {
  if (t.empty() || t.size() > kMaxTypeLength) return false;
  return std::all_of(t.begin(), t.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// (A plain loop: string_view::find_first_of calls memchr once per character.)
bool is_integer_text(std::string_view text) {
  for (char c : text) {
    if (c == '.' || c == 'e' || c == 'E') return false;
  }
  return true;
}

// A JSON number's text (grammar already checked by RapidJSON) that is a plain integer from 0 to
// `max`: no sign, fraction or exponent. (By hand: std::from_chars for integers costs about 20
// instructions per digit here, this about 4, and ts has 13 digits.)
bool parse_uint(std::string_view text, std::uint64_t max, std::uint64_t& out) {
  if (text.empty()) return false;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;  // '-', '.', 'e', 'E'
    if (__builtin_mul_overflow(v, 10U, &v) || __builtin_add_overflow(v, static_cast<unsigned>(c - '0'), &v)) {
      return false;
    }
  }
  if (v > max) return false;
  out = v;
  return true;
}

// For a JSON number's text that std::from_chars found out of range: true if it is too large for a
// double, false if it is too close to zero (it then rounds to zero). Decides by the decimal
// exponent of the leading significant digit, which is above 300 or below -300 in those cases.
bool overflows(std::string_view text) {
  std::size_t i = text.empty() || text[0] != '-' ? 0 : 1;
  long magnitude = 0;
  long int_digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (int_digits > 0 || text[i] != '0') ++int_digits;
  }
  if (int_digits > 0) {
    magnitude = int_digits - 1;
  } else {
    long zeros = 0;
    if (i < text.size() && text[i] == '.') {
      for (++i; i < text.size() && text[i] == '0'; ++i) ++zeros;
    }
    magnitude = -(zeros + 1);
  }
  while (i < text.size() && text[i] != 'e' && text[i] != 'E') ++i;
  long exp = 0;
  if (i < text.size()) {
    ++i;
    const bool negative = i < text.size() && text[i] == '-';
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (exp < 1'000'000) exp = exp * 10 + (text[i] - '0');
    }
    if (negative) exp = -exp;
  }
  return magnitude + exp > 0;
}

// A JSON number's text to the nearest double; false if it is beyond the largest double.
bool parse_double(std::string_view text, double& out) {
  // Short integers, the commonest readings, are exact as they are.
  const bool negative = !text.empty() && text[0] == '-';
  std::uint64_t u = 0;
  if (text.size() <= 16 && parse_uint(text.substr(negative ? 1 : 0), kMaxExactInteger, u)) {
    out = negative ? -static_cast<double>(u) : static_cast<double>(u);
    return true;
  }
  const char* const last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(text.data(), last, out);
  if (ec == std::errc()) return end == last && std::isfinite(out);
  if (ec == std::errc::result_out_of_range && !overflows(text)) {
    out = text[0] == '-' ? -0.0 : 0.0;
    return true;
  }
  return false;
}

// A JSON number's text as attribute text: integers in decimal as they are (without a redundant
// sign of -0), anything else in the shortest form that reads back as the same double.
bool number_text(std::string_view text, std::string& out) {
  char buf[32];
  if (is_integer_text(text)) {
    std::to_chars_result r{};
    if (text[0] == '-') {
      std::int64_t v = 0;
      const auto p = std::from_chars(text.data(), text.data() + text.size(), v);
      if (p.ec == std::errc()) r = std::to_chars(buf, buf + sizeof buf, v);
    } else {
      std::uint64_t v = 0;
      const auto p = std::from_chars(text.data(), text.data() + text.size(), v);
      if (p.ec == std::errc()) r = std::to_chars(buf, buf + sizeof buf, v);
    }
    if (r.ptr != nullptr && r.ec == std::errc()) {
      out.assign(buf, r.ptr);
      return true;
    }
    // Beyond 64 bits: falls through to a double.
  }
  double d = 0;
  if (!parse_double(text, d)) return false;
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.assign(buf, r.ptr);
  return true;
}

// Adds {name, value} to `metrics` unless the name is there already (then false). Small messages
// are scanned; from kLinearScanMax metrics on, `slots` is an open-addressing table of metric index
// + 1 (0 = free), kept at most half full, whose storage is reused from message to message.
bool add_unique(std::vector<MetricValue>& metrics, std::vector<std::uint32_t>& slots, std::string_view name,
                double value) {
  const std::size_t n = metrics.size();
  auto insert = [&](std::size_t index) {
    const std::size_t mask = slots.size() - 1;
    const std::size_t hash = std::hash<std::string_view>{}(metrics[index].name);
    std::size_t h = hash & mask;
    while (slots[h] != 0) h = (h + 1) & mask;
    slots[h] = static_cast<std::uint32_t>(index + 1);
  };
  if (n < kLinearScanMax) {
    for (const auto& m : metrics) {
      if (m.name == name) return false;
    }
    metrics.push_back({name, value});
    if (metrics.size() == kLinearScanMax) {
      if (slots.size() < 2 * kLinearScanMax) slots.resize(4 * kLinearScanMax);
      std::fill(slots.begin(), slots.end(), 0);
      for (std::size_t i = 0; i < metrics.size(); ++i) insert(i);
    }
    return true;
  }
  if (2 * (n + 1) > slots.size()) {  // only if the limits did not size the table (see apply)
    slots.assign(std::bit_ceil(4 * (n + 1)), 0);
    for (std::size_t i = 0; i < n; ++i) insert(i);
  }
  const std::size_t mask = slots.size() - 1;
  const std::size_t hash = std::hash<std::string_view>{}(name);
  std::size_t h = hash & mask;
  while (slots[h] != 0) {
    if (metrics[slots[h] - 1].name == name) return false;
    h = (h + 1) & mask;
  }
  metrics.push_back({name, value});
  slots[h] = static_cast<std::uint32_t>(n + 1);
  return true;
}

// Whether RapidJSON wrote a surrogate (U+D800..U+DFFF) into a decoded string: it accepts an
// unpaired low-surrogate escape such as "\udc00" and encodes it as bytes ED B0 80, which is not
// UTF-8. Such a name or text would make every protobuf record carrying it unparseable upstream.
// Everything else RapidJSON produces is valid UTF-8 (the input is validated), so this is the only
// pattern to look for.
bool has_surrogate(std::string_view s) {
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0) return true;
  }
  return false;
}

// The SAX events common to both payload kinds: the root must be an object; depth is counted (the
// root object is level 1) and capped; values of the root's members go to the derived handler
// (on_key, on_number, on_bool, on_string, on_skipped for null, objects and arrays); everything
// nested deeper is passed over. A callback returns false after fail() to stop the parse.
template <class Derived>
class RootHandler {
 public:
  using Ch = char;
  explicit RootHandler(int max_depth) : max_depth_(max_depth) {}

  [[nodiscard]] bool failed() const { return !error_.empty(); }
  std::string take_error() { return std::move(error_); }

  // NOLINTBEGIN(readability-identifier-naming): RapidJSON's Handler concept names these.
  bool Null() { return depth_ == 1 ? self().on_skipped() : inside(); }
  bool Bool(bool b) { return depth_ == 1 ? self().on_bool(b) : inside(); }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool /*copy*/) {
    return depth_ == 1 ? self().on_number(std::string_view(s, n)) : inside();
  }
  bool String(const Ch* s, rapidjson::SizeType n, bool /*copy*/) {
    return depth_ == 1 ? self().on_string(std::string_view(s, n)) : inside();
  }
  bool Key(const Ch* s, rapidjson::SizeType n, bool /*copy*/) {
    if (depth_ != 1) return true;
    const std::string_view key(s, n);
    if (std::find(s, s + n, '\0') != s + n) return fail("key " + quoted(key) + " contains a NUL character");
    // Not quoted: the reason itself must stay UTF-8.
    if (has_surrogate(key)) return fail("a key contains an unpaired surrogate escape (\\udc00-\\udfff)");
    return self().on_key(key);
  }
  bool StartObject() { return open(); }
  bool StartArray() { return depth_ == 0 ? fail("payload is not a JSON object") : open(); }
  bool EndObject(rapidjson::SizeType /*members*/) { return close(); }
  bool EndArray(rapidjson::SizeType /*elements*/) { return close(); }
  // Not called: kParseNumbersAsStringsFlag hands every number to RawNumber.
  bool Int(int) { return unexpected_number(); }
  bool Uint(unsigned) { return unexpected_number(); }
  bool Int64(std::int64_t) { return unexpected_number(); }
  bool Uint64(std::uint64_t) { return unexpected_number(); }
  bool Double(double) { return unexpected_number(); }
  // NOLINTEND(readability-identifier-naming)

 protected:
  bool fail(std::string msg) {
    error_ = std::move(msg);
    return false;
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  bool inside() { return depth_ == 0 ? fail("payload is not a JSON object") : true; }
  bool open() {
    if (++depth_ > max_depth_) return fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
    return depth_ == 2 ? self().on_skipped() : true;
  }
  bool close() {
    --depth_;
    return true;
  }
  bool unexpected_number() { return fail("internal error: number not delivered as text"); }

  int max_depth_;
  int depth_ = 0;
  std::string error_;
};

class TelemetryHandler : public RootHandler<TelemetryHandler> {
 public:
  TelemetryHandler(const DecodeLimits& limits, std::vector<std::uint32_t>& slots, TelemetrySample& out)
      : RootHandler(limits.max_depth), max_metrics_(limits.max_metrics), slots_(slots), out_(out) {}

  bool on_key(std::string_view key) {
    if (key == "seq" || key == "ts") {
      const bool is_seq = key == "seq";
      bool& seen = is_seq ? has_seq_ : has_ts_;
      if (seen) return fail("key " + quoted(key) + " appears twice");
      seen = true;
      field_ = is_seq ? Field::kSeq : Field::kTs;
      return true;
    }
    if (key.empty()) return fail("metric with an empty name");
    field_ = Field::kMetric;
    name_ = key;
    return true;
  }
  bool on_number(std::string_view text) {
    std::uint64_t v = 0;
    switch (field_) {
      case Field::kSeq:
        if (!parse_uint(text, std::numeric_limits<std::uint32_t>::max(), v)) return fail(kSeqRule);
        out_.seq = static_cast<std::uint32_t>(v);
        return true;
      case Field::kTs:
        if (!parse_uint(text, std::numeric_limits<std::uint64_t>::max(), v)) return fail(kTsRule);
        out_.ts_ms = v;
        return true;
      case Field::kMetric: break;
    }
    double d = 0;
    if (!parse_double(text, d)) return fail("metric " + quoted(name_) + " is not a finite number");
    return add(d);
  }
  bool on_bool(bool b) { return field_ == Field::kMetric ? add(b ? 1.0 : 0.0) : fail_field(); }
  bool on_string(std::string_view /*value*/) { return on_skipped(); }
  bool on_skipped() {
    if (field_ != Field::kMetric) return fail_field();
    ++out_.ignored_fields;
    return true;
  }

  // After a successful parse: what only the whole object can tell.
  Status finish() { return has_seq_ ? Status::ok() : invalid("seq is missing"); }

 private:
  enum class Field { kSeq, kTs, kMetric };

  bool fail_field() { return fail(field_ == Field::kSeq ? kSeqRule : kTsRule); }
  bool add(double value) {
    if (out_.metrics.size() >= max_metrics_) return fail("more than " + std::to_string(max_metrics_) + " metrics");
    if (!add_unique(out_.metrics, slots_, name_, value)) return fail("metric " + quoted(name_) + " appears twice");
    return true;
  }

  std::size_t max_metrics_;
  std::vector<std::uint32_t>& slots_;
  TelemetrySample& out_;
  Field field_ = Field::kMetric;
  std::string_view name_;
  bool has_seq_ = false;
  bool has_ts_ = false;
};

class EventHandler : public RootHandler<EventHandler> {
 public:
  EventHandler(const DecodeLimits& limits, xrm::v1::ServiceEvent& out, std::uint32_t& ignored)
      : RootHandler(limits.max_depth), max_attributes_(limits.max_metrics), out_(out), ignored_(ignored) {}

  bool on_key(std::string_view key) {
    field_ = field_of(key);
    key_ = key;
    if (field_ == Field::kAttribute) {
      if (key.empty()) return fail("attribute with an empty name");
      if (out_.attributes().contains(std::string(key))) return fail("key " + quoted(key) + " appears twice");
      return true;
    }
    const auto bit = 1u << static_cast<unsigned>(field_);
    if ((seen_ & bit) != 0) return fail("key " + quoted(key) + " appears twice");
    seen_ |= bit;
    return true;
  }
  bool on_number(std::string_view text) {
    std::uint64_t v = 0;
    double d = 0;
    switch (field_) {
      case Field::kSeq:
        if (!parse_uint(text, std::numeric_limits<std::uint32_t>::max(), v)) return fail(kSeqRule);
        out_.set_seq(static_cast<std::uint32_t>(v));
        return true;
      case Field::kTs:
        if (!parse_uint(text, std::numeric_limits<std::uint64_t>::max(), v)) return fail(kTsRule);
        out_.set_ts(v);
        return true;
      case Field::kScore:
        if (!parse_double(text, d)) return fail_field();
        out_.set_score(d);
        return true;
      case Field::kAttribute: {
        std::string value;
        if (!number_text(text, value)) return fail("attribute " + quoted(key_) + " is not a finite number");
        return put_attribute(std::move(value));
      }
      default: return fail_field();
    }
  }
  bool on_bool(bool b) { return field_ == Field::kAttribute ? put_attribute(b ? "true" : "false") : fail_field(); }
  bool on_string(std::string_view s) {
    if (field_ != Field::kType && has_surrogate(s)) {
      return fail("value of " + quoted(key_) + " contains an unpaired surrogate escape");
    }
    switch (field_) {
      case Field::kType:
        if (!valid_type(s)) return fail("type " + quoted(s) + " is not " + kTypeRule);
        out_.set_type(s.data(), s.size());
        return true;
      case Field::kCode: out_.mutable_code()->assign(s); return true;
      case Field::kTechnician: out_.mutable_technician()->assign(s); return true;
      case Field::kRequestId: out_.mutable_request_id()->assign(s); return true;
      case Field::kNote: out_.mutable_note()->assign(s); return true;
      case Field::kAttribute: return put_attribute(std::string(s));
      default: return fail_field();
    }
  }
  bool on_skipped() {
    if (field_ != Field::kAttribute) return fail_field();
    ++ignored_;
    return true;
  }

  Status finish() {
    if ((seen_ & (1u << static_cast<unsigned>(Field::kSeq))) == 0) return invalid("seq is missing");
    if ((seen_ & (1u << static_cast<unsigned>(Field::kType))) == 0) return invalid("type is missing");
    return Status::ok();
  }

 private:
  enum class Field { kSeq, kTs, kType, kCode, kScore, kTechnician, kRequestId, kNote, kAttribute };

  static Field field_of(std::string_view key) {
    if (key == "seq") return Field::kSeq;
    if (key == "ts") return Field::kTs;
    if (key == "type") return Field::kType;
    if (key == "code") return Field::kCode;
    if (key == "score") return Field::kScore;
    if (key == "technician") return Field::kTechnician;
    if (key == "request_id") return Field::kRequestId;
    if (key == "note") return Field::kNote;
    return Field::kAttribute;
  }
  bool fail_field() {
    switch (field_) {
      case Field::kSeq: return fail(kSeqRule);
      case Field::kTs: return fail(kTsRule);
      case Field::kType: return fail(std::string("type must be a string of ") + kTypeRule);
      case Field::kCode: return fail("code must be a string");
      case Field::kScore: return fail("score must be a finite number");
      case Field::kTechnician: return fail("technician must be a string");
      case Field::kRequestId: return fail("request_id must be a string");
      case Field::kNote: return fail("note must be a string");
      case Field::kAttribute: break;
    }
    return fail("internal error: attribute refused");
  }
  bool put_attribute(std::string value) {
    auto& attributes = *out_.mutable_attributes();
    if (attributes.size() >= max_attributes_) {
      return fail("more than " + std::to_string(max_attributes_) + " attributes");
    }
    attributes[std::string(key_)] = std::move(value);
    return true;
  }

  std::size_t max_attributes_;
  xrm::v1::ServiceEvent& out_;
  std::uint32_t& ignored_;
  Field field_ = Field::kAttribute;
  std::string_view key_;
  unsigned seen_ = 0;
};

// A protobuf field the schema defines: its number and wire type (0 varint, 1 fixed64, 2 length
// delimited, 5 fixed32). A field with a known number but another wire type is an unknown field to
// the protobuf parser too.
struct KnownField {
  std::uint32_t number;
  std::uint32_t wire_type;
};
constexpr KnownField kTelemetryFields[] = {{1, 0}, {2, 0}, {3, 2}};
constexpr KnownField kMetricFields[] = {{1, 2}, {2, 1}};
constexpr KnownField kEventFields[] = {{1, 0}, {2, 0}, {3, 2}, {4, 2}, {5, 1}, {6, 2}, {7, 2}, {8, 2}, {9, 2}};
constexpr KnownField kMapEntryFields[] = {{1, 2}, {2, 2}};

const char* read_varint(const char* p, const char* end, std::uint64_t& v) {
  v = 0;
  for (unsigned shift = 0; shift < 64 && p < end; shift += 7) {
    const auto b = static_cast<unsigned char>(*p++);
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return p;
  }
  return nullptr;
}

// Whether the protobuf message `msg` (already parsed successfully, so well-formed) has a field
// outside `known`, looking into the messages of field `nested` with `nested_known` as well. The
// lite runtime keeps unknown fields but offers no public way to ask about them, so the wire is
// walked again: tags and lengths only, a few nanoseconds per field, no allocation.
template <std::size_t N, std::size_t M>
bool has_unknown_fields(std::string_view msg, const KnownField (&known)[N], std::uint32_t nested,
                        const KnownField (&nested_known)[M]) {
  const char* p = msg.data();
  const char* const end = p + msg.size();
  while (p < end) {
    std::uint64_t tag = 0;
    if ((p = read_varint(p, end, tag)) == nullptr) return false;
    const auto number = static_cast<std::uint32_t>(tag >> 3);
    const auto wire_type = static_cast<std::uint32_t>(tag & 7);
    if (std::none_of(std::begin(known), std::end(known),
                     [&](const KnownField& f) { return f.number == number && f.wire_type == wire_type; })) {
      return true;
    }
    std::uint64_t v = 0;
    switch (wire_type) {
      case 0:
        if ((p = read_varint(p, end, v)) == nullptr) return false;
        break;
      case 1:
      case 5: {
        const std::size_t width = wire_type == 1 ? 8 : 4;
        if (static_cast<std::size_t>(end - p) < width) return false;
        p += width;
        break;
      }
      case 2:
        if ((p = read_varint(p, end, v)) == nullptr || v > static_cast<std::uint64_t>(end - p)) return false;
        if (number == nested && has_unknown_fields(std::string_view(p, v), nested_known, 0, nested_known)) return true;
        p += v;
        break;
      default: return false;  // groups are never known fields (caught above)
    }
  }
  return false;
}

// Checks of a ServiceEvent that hold for both payload kinds (the JSON handler checks the type as
// it reads it; checking it again here is cheap).
Status check_event(const xrm::v1::ServiceEvent& e, std::size_t max_attributes) {
  if (!valid_type(e.type())) {
    return e.type().empty() ? invalid("type is missing") : invalid("type " + quoted(e.type()) + " is not " + kTypeRule);
  }
  if (e.has_score() && !std::isfinite(e.score())) return invalid("score must be a finite number");
  if (e.type() == "satisfaction" && !e.has_score()) return invalid("satisfaction event without score");
  if (e.attributes_size() > static_cast<int>(std::min<std::size_t>(max_attributes, INT_MAX))) {
    return invalid("more than " + std::to_string(max_attributes) + " attributes");
  }
  for (const auto& [key, value] : e.attributes()) {
    if (key.empty()) return invalid("attribute with an empty name");
    if (key.find('\0') != std::string::npos) return invalid("key " + quoted(key) + " contains a NUL character");
  }
  return Status::ok();
}

}  // namespace

struct PayloadDecoder::Impl {
  explicit Impl(DecodeLimits l) { apply(l); }

  // Sizes the reusable buffers for `l` so steady-state decoding does not allocate.
  void apply(DecodeLimits l) {
    limits = l;
    json.reserve(std::min(limits.max_payload, kMaxReserve));
    // Each metric takes at least 5 bytes in either form ("a":0, / tag, length, name), so a payload
    // within the limit never needs a larger table than this.
    const std::size_t most = std::min(limits.max_metrics, limits.max_payload / 4 + 1);
    if (most >= kLinearScanMax) {
      const std::size_t want = std::bit_ceil(2 * most);
      if (slots.size() < want) slots.assign(want, 0);
    }
  }

  Status check_size(std::string_view payload) const {
    if (payload.size() > limits.max_payload) {
      return invalid("payload of " + std::to_string(payload.size()) + " bytes exceeds ingest.max_payload (" +
                     std::to_string(limits.max_payload) + ")");
    }
    if (payload.empty()) return invalid("empty payload");
    return Status::ok();
  }

  template <class Handler>
  Status parse_json(std::string_view payload, Handler& handler) {
    if (const void* nul = std::memchr(payload.data(), 0, payload.size())) {
      const auto at = static_cast<const char*>(nul) - payload.data();
      return invalid("NUL byte in JSON at byte " + std::to_string(at));
    }
    json.assign(payload);  // std::string keeps the terminating NUL the in-situ reader stops at
    rapidjson::InsituStringStream stream(json.data());
    const rapidjson::ParseResult result = reader.Parse<kJsonFlags>(stream, handler);
    if (!result.IsError()) return handler.finish();
    if (handler.failed()) return invalid(handler.take_error());
    return invalid("not valid JSON at byte " + std::to_string(result.Offset()) + ": " +
                   rapidjson::GetParseError_En(result.Code()));
  }

  Status decode_telemetry_proto(std::string_view payload, TelemetrySample& out) {
    if (payload.size() > static_cast<std::size_t>(INT_MAX) ||
        !telemetry.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return invalid("neither JSON nor a protobuf Telemetry");
    }
    out.seq = telemetry.seq();
    out.ts_ms = telemetry.ts();
    if (has_unknown_fields(payload, kTelemetryFields, 3, kMetricFields)) ++out.ignored_fields;
    if (static_cast<std::size_t>(telemetry.metrics_size()) > limits.max_metrics) {
      return invalid("more than " + std::to_string(limits.max_metrics) + " metrics");
    }
    for (const auto& m : telemetry.metrics()) {
      const std::string& name = m.name();
      if (name.empty()) return invalid("metric with an empty name");
      if (name.find('\0') != std::string::npos) return invalid("key " + quoted(name) + " contains a NUL character");
      if (!std::isfinite(m.value())) return invalid("metric " + quoted(name) + " is not a finite number");
      if (!add_unique(out.metrics, slots, name, m.value())) return invalid("metric " + quoted(name) + " appears twice");
    }
    return Status::ok();
  }

  DecodeLimits limits;
  // Kept between messages: its state stack (malloc'ed on first use) is reused.
  rapidjson::Reader reader;
  // In-situ copy of the current JSON payload; metric names point into it.
  std::string json;
  // The current protobuf telemetry; metric names point into it. Clear() keeps its capacity.
  xrm::v1::Telemetry telemetry;
  // Duplicate-name table for messages with many metrics (see add_unique).
  std::vector<std::uint32_t> slots;
};

PayloadDecoder::PayloadDecoder(DecodeLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
PayloadDecoder::~PayloadDecoder() = default;
PayloadDecoder::PayloadDecoder(PayloadDecoder&&) noexcept = default;
PayloadDecoder& PayloadDecoder::operator=(PayloadDecoder&&) noexcept = default;

void PayloadDecoder::set_limits(DecodeLimits limits) { impl_->apply(limits); }
const DecodeLimits& PayloadDecoder::limits() const { return impl_->limits; }

Status PayloadDecoder::decode_telemetry(std::string_view payload, TelemetrySample& out) {
  out.seq = 0;
  out.ts_ms = 0;
  out.metrics.clear();
  out.ignored_fields = 0;
  Impl& d = *impl_;
  if (Status s = d.check_size(payload); !s) return s;
  if (!is_json(payload)) return d.decode_telemetry_proto(payload, out);
  TelemetryHandler handler(d.limits, d.slots, out);
  return d.parse_json(payload, handler);
}

Status PayloadDecoder::decode_event(std::string_view payload, xrm::v1::ServiceEvent& out,
                                    std::uint32_t& ignored_fields) {
  out.Clear();
  ignored_fields = 0;
  Impl& d = *impl_;
  if (Status s = d.check_size(payload); !s) return s;
  if (is_json(payload)) {
    EventHandler handler(d.limits, out, ignored_fields);
    if (Status s = d.parse_json(payload, handler); !s) return s;
  } else {
    if (payload.size() > static_cast<std::size_t>(INT_MAX) ||
        !out.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return invalid("neither JSON nor a protobuf ServiceEvent");
    }
    if (has_unknown_fields(payload, kEventFields, 9, kMapEntryFields)) ++ignored_fields;
  }
  return check_event(out, d.limits.max_metrics);
}

}  // namespace xrm::ingest
