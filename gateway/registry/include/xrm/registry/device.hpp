#pragma once
// A connected device as a stakeholder: its identity, profile class, lifecycle, the people and
// companies linked to it, and what it told us about itself.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xrm/proto/xrm.pb.h"

namespace xrm::registry {

// provisioned -> active on first data -> degraded/critical from health -> offline -> retired.
enum class Lifecycle { kProvisioned, kActive, kDegraded, kCritical, kOffline, kRetired };

std::string_view to_string(Lifecycle lifecycle);
std::optional<Lifecycle> parse_lifecycle(std::string_view text);
// Whether the registry lets a device move from `from` to `to` (from == to is never a transition).
// retired is final; provisioned is only ever left, never re-entered.
bool transition_allowed(Lifecycle from, Lifecycle to);

// The relationships of a device. Empty string: not linked.
struct Stakeholders {
  std::string owner;       // owner customer
  std::string site;
  std::string technician;
  std::string supplier;
  std::string model;
  bool operator==(const Stakeholders&) const = default;
};

// The link fields by name, in a fixed order: "owner", "site", "technician", "supplier", "model".
inline constexpr std::string_view kLinkFields[] = {"owner", "site", "technician", "supplier", "model"};
std::string& link_field(Stakeholders& s, std::string_view name);
const std::string& link_field(const Stakeholders& s, std::string_view name);

struct Device {
  std::string id;
  std::string class_name;
  Lifecycle lifecycle = Lifecycle::kProvisioned;
  Stakeholders links;
  std::string firmware;                       // from the device's birth message
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;                // last change of class, lifecycle, links or firmware
  std::optional<std::int64_t> first_data_ms;
  std::optional<std::int64_t> last_seen_ms;   // last usable tele, evt or cmd-res (contact)
  std::optional<std::int64_t> retired_ms;
  std::uint64_t messages = 0;                 // data messages accepted, ever
  std::optional<bool> online;                 // from the state topic; unknown until it says
};

// The links as the schema's Stakeholders.
void to_proto(const Stakeholders& s, xrm::v1::Stakeholders* out);

// Fills what every interaction record about the device carries: device id, its stakeholders now,
// its profile class and the time span (ms since the Unix epoch). Kind, body and created_at are the
// caller's.
void fill_record_header(const Device& d, std::uint64_t span_start_ms, std::uint64_t span_end_ms,
                        xrm::v1::InteractionRecord& rec);

// One entry of a device's relationship history: what changed, when, by whom.
struct HistoryEntry {
  std::int64_t at_ms = 0;
  std::string what;        // "provisioned", "owner", "site", ..., "lifecycle", "firmware", "credentials"
  std::string old_value;
  std::string new_value;
  std::string actor;       // "xrmctl:uid=1000(alice)", "device", "gateway"
};

}  // namespace xrm::registry
