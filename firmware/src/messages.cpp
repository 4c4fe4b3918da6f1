#include "xrm/device/messages.hpp"

#include <cmath>
#include <set>

#include "xrm/device/json_writer.hpp"
#include "xrm/device/wire.hpp"

namespace xrm::device {
namespace {

constexpr std::size_t kMaxMetrics = 256;

void put_string(wire::Writer& w, std::uint32_t field, const std::string& s) {
  if (!s.empty()) w.bytes(field, s);  // proto3: empty strings are not written
}
void put_varint(wire::Writer& w, std::uint32_t field, std::uint64_t v) {
  if (v != 0) w.varint(field, v);
}

}  // namespace

bool is_valid_event_type(std::string_view type) {
  if (type.empty() || type.size() > 64) return false;
  for (char c : type) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

Status encode_telemetry(const Telemetry& t, Encoding enc, std::string& out) {
  if (t.metrics.size() > kMaxMetrics) return Status::error("telemetry: more than 256 metrics");
  std::set<std::string_view> names;
  for (const auto& [name, value] : t.metrics) {
    if (name.empty()) return Status::error("telemetry: empty metric name");
    if (name == "seq" || name == "ts") return Status::error("telemetry: metric name \"" + name + "\" is reserved");
    if (!std::isfinite(value)) return Status::error("telemetry: metric " + name + " is not a finite number");
    if (!names.insert(name).second) return Status::error("telemetry: metric " + name + " given twice");
  }
  if (enc == Encoding::kJson) {
    JsonObjectWriter w;
    w.add_uint("seq", t.seq);
    w.add_uint("ts", t.ts);
    for (const auto& [name, value] : t.metrics) w.add_double(name, value);
    out = w.finish();
    return Status::ok();
  }
  wire::Writer w;
  put_varint(w, 1, t.seq);
  put_varint(w, 2, t.ts);
  for (const auto& [name, value] : t.metrics) {
    wire::Writer m;
    put_string(m, 1, name);
    if (value != 0.0 || std::signbit(value)) m.fixed64_double(2, value);
    w.bytes(3, m.out());
  }
  out = std::move(w.out());
  return Status::ok();
}

Status encode_event(const ServiceEvent& e, Encoding enc, std::string& out) {
  if (!is_valid_event_type(e.type)) {
    return Status::error("event: invalid type \"" + e.type + "\" (1 to 64 of a-z 0-9 _)");
  }
  if (e.score && !std::isfinite(*e.score)) return Status::error("event: score is not a finite number");
  if (e.type == "satisfaction" && !e.score) return Status::error("event: satisfaction needs a score");
  if (enc == Encoding::kJson) {
    static constexpr std::string_view kReserved[] = {"seq",   "ts",         "type",       "code",
                                                     "score", "technician", "request_id", "note"};
    JsonObjectWriter w;
    w.add_uint("seq", e.seq);
    w.add_uint("ts", e.ts);
    w.add_string("type", e.type);
    if (e.code) w.add_string("code", *e.code);
    if (e.score) w.add_double("score", *e.score);
    if (!e.technician.empty()) w.add_string("technician", e.technician);
    if (!e.request_id.empty()) w.add_string("request_id", e.request_id);
    if (!e.note.empty()) w.add_string("note", e.note);
    for (const auto& [k, v] : e.attributes) {
      if (k.empty()) return Status::error("event: empty attribute name");
      for (auto r : kReserved) {
        if (k == r) return Status::error("event: attribute name \"" + k + "\" is reserved");
      }
      w.add_string(k, v);
    }
    out = w.finish();
    return Status::ok();
  }
  wire::Writer w;
  put_varint(w, 1, e.seq);
  put_varint(w, 2, e.ts);
  put_string(w, 3, e.type);
  if (e.code) w.bytes(4, *e.code);  // optional: written when set, even if empty
  if (e.score) w.fixed64_double(5, *e.score);
  put_string(w, 6, e.technician);
  put_string(w, 7, e.request_id);
  put_string(w, 8, e.note);
  for (const auto& [k, v] : e.attributes) w.map_entry(9, k, v);
  out = std::move(w.out());
  return Status::ok();
}

std::string encode_birth(const Birth& b, Encoding enc) {
  if (enc == Encoding::kJson) {
    std::string out = "{";
    append_json_string(out, "model");
    out += ':';
    append_json_string(out, b.model);
    out += ',';
    append_json_string(out, "firmware_version");
    out += ':';
    append_json_string(out, b.firmware_version);
    out += ",\"capabilities\":[";
    for (std::size_t i = 0; i < b.capabilities.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, b.capabilities[i]);
    }
    out += "],\"ts\":" + std::to_string(b.ts);
    for (const auto& [k, v] : b.attributes) {
      if (k == "model" || k == "firmware_version" || k == "capabilities" || k == "ts" || k.empty()) continue;
      out += ',';
      append_json_string(out, k);
      out += ':';
      append_json_string(out, v);
    }
    out += '}';
    return out;
  }
  wire::Writer w;
  put_string(w, 1, b.model);
  put_string(w, 2, b.firmware_version);
  for (const auto& c : b.capabilities) w.bytes(3, c);
  put_varint(w, 4, b.ts);
  for (const auto& [k, v] : b.attributes) w.map_entry(5, k, v);
  return std::move(w.out());
}

std::string encode_command_result(const CommandResult& r) {
  wire::Writer w;
  put_string(w, 1, r.request_id);
  put_varint(w, 2, static_cast<std::uint64_t>(r.status));
  put_string(w, 3, r.message);
  for (const auto& [k, v] : r.data) w.map_entry(4, k, v);
  put_varint(w, 5, r.completed_at_ms);
  put_string(w, 7, r.device_id);
  put_string(w, 8, r.name);
  put_string(w, 9, r.payload);
  return std::move(w.out());
}

Status decode_command(std::string_view payload, Command& out) {
  out = Command{};
  wire::Reader r(payload);
  while (!r.done()) {
    std::uint32_t field = 0;
    wire::WireType type = wire::kVarint;
    if (!r.next(field, type)) return Status::error("command: malformed protobuf tag");
    const bool is_len = type == wire::kLengthDelimited;
    const bool is_var = type == wire::kVarint;
    std::string_view bytes;
    std::uint64_t v = 0;
    bool ok = true;
    if ((field == 1 || field == 2 || field == 3 || field == 4 || field == 7 || field == 8) && is_len) {
      ok = r.read_bytes(bytes);
    } else if ((field == 5 || field == 6) && is_var) {
      ok = r.read_varint(v);
    } else {
      if (!r.skip(type)) return Status::error("command: malformed protobuf field " + std::to_string(field));
      continue;  // unknown field (or a known one with another wire type): skipped, as proto3 does
    }
    if (!ok) return Status::error("command: truncated protobuf field " + std::to_string(field));
    switch (field) {
      case 1: out.request_id.assign(bytes); break;
      case 2: out.name.assign(bytes); break;
      case 4: out.payload.assign(bytes); break;
      case 7: out.device_id.assign(bytes); break;
      case 8: out.issued_by.assign(bytes); break;
      case 5: out.issued_at_ms = v; break;
      case 6: out.expires_at_ms = v; break;
      case 3: {
        wire::Reader entry(bytes);
        std::string key, value;
        while (!entry.done()) {
          std::uint32_t f = 0;
          wire::WireType t = wire::kVarint;
          if (!entry.next(f, t)) return Status::error("command: malformed args entry");
          std::string_view s;
          if ((f == 1 || f == 2) && t == wire::kLengthDelimited) {
            if (!entry.read_bytes(s)) return Status::error("command: truncated args entry");
            (f == 1 ? key : value).assign(s);
          } else if (!entry.skip(t)) {
            return Status::error("command: malformed args entry");
          }
        }
        out.args[key] = value;  // later entries win, as in protobuf maps
        break;
      }
      default: break;
    }
  }
  return Status::ok();
}

}  // namespace xrm::device
