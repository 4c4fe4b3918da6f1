#include "xrm/registry/registry.hpp"

#include <algorithm>

#include "xrm/common/log.hpp"

namespace xrm::registry {
namespace {

constexpr const char* kDeviceColumns =
    "id, class, lifecycle, owner, site, technician, supplier, model, firmware, created_ms, updated_ms, "
    "first_data_ms, last_seen_ms, retired_ms, messages";

}  // namespace

Registry::Registry(store::Database& db, outbox::Outbox& outbox, const Clock& clock)
    : db_(db), outbox_(outbox), clock_(clock) {}

Status Registry::load() {
  auto stmt = db_.prepare(std::string("SELECT ") + kDeviceColumns + " FROM devices;");
  if (!stmt) return stmt.status();
  devices_.clear();
  index_.clear();
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.status();
    if (!*row) break;
    auto e = std::make_unique<Entry>();
    e->id = stmt->column_text(0);
    e->class_name = stmt->column_text(1);
    const auto lc = parse_lifecycle(stmt->column_text(2));
    if (!lc) return Status::corruption("device " + e->id + " has unknown lifecycle '" + stmt->column_text(2) + "'");
    e->lifecycle = *lc;
    e->links = {stmt->column_text(3), stmt->column_text(4), stmt->column_text(5), stmt->column_text(6),
                stmt->column_text(7)};
    e->firmware = stmt->column_text(8);
    e->created_ms = stmt->column_int(9);
    e->updated_ms = stmt->column_int(10);
    e->first_data_ms = stmt->column_opt(11);
    e->last_seen_ms = stmt->column_opt(12);
    e->retired_ms = stmt->column_opt(13);
    e->messages = static_cast<std::uint64_t>(stmt->column_int(14));
    index_.emplace(e->id, e.get());  // the view points into the entry, which never moves
    devices_.emplace(e->id, std::move(e));
  }
  return Status::ok();
}

Registry::Entry* Registry::find_entry(std::string_view id) {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : it->second;
}

const Device* Registry::find(std::string_view id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : it->second;
}

std::vector<const Device*> Registry::list() const {
  std::vector<const Device*> out;
  out.reserve(devices_.size());
  for (const auto& [id, d] : devices_) out.push_back(d.get());
  return out;
}

std::map<std::string, std::uint64_t> Registry::count_by_lifecycle() const {
  std::map<std::string, std::uint64_t> out;
  for (const auto& [id, d] : devices_) ++out[std::string(to_string(d->lifecycle))];
  return out;
}

Status Registry::write_device(const Device& d) {
  auto stmt = db_.prepare(std::string("INSERT OR REPLACE INTO devices(") + kDeviceColumns +
                          ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15);");
  if (!stmt) return stmt.status();
  stmt->bind(1, d.id)
      .bind(2, d.class_name)
      .bind(3, to_string(d.lifecycle))
      .bind(4, d.links.owner)
      .bind(5, d.links.site)
      .bind(6, d.links.technician)
      .bind(7, d.links.supplier)
      .bind(8, d.links.model)
      .bind(9, d.firmware)
      .bind(10, d.created_ms)
      .bind(11, d.updated_ms)
      .bind_opt(12, d.first_data_ms)
      .bind_opt(13, d.last_seen_ms)
      .bind_opt(14, d.retired_ms)
      .bind(15, static_cast<std::int64_t>(d.messages));
  return stmt->run();
}

Status Registry::write_history(const std::string& id, std::int64_t at_ms, std::string_view what,
                               std::string_view old_value, std::string_view new_value, std::string_view actor) {
  auto stmt = db_.prepare("INSERT INTO device_history(device, at_ms, what, old, new, actor) VALUES(?1, ?2, ?3, ?4, ?5, ?6);");
  if (!stmt) return stmt.status();
  stmt->bind(1, id).bind(2, at_ms).bind(3, what).bind(4, old_value).bind(5, new_value).bind(6, actor);
  return stmt->run();
}

Status Registry::write_lifecycle_record(const Device& d, xrm::v1::LifecycleChange change,
                                        std::optional<Lifecycle> previous,
                                        const std::string& actor, const std::string& detail,
                                        const Stakeholders* previous_links, const xrm::v1::Birth* birth) {
  xrm::v1::InteractionRecord rec;
  const auto now = static_cast<std::uint64_t>(clock_.unix_ms());
  rec.set_kind(xrm::v1::RECORD_KIND_LIFECYCLE);
  fill_record_header(d, now, now, rec);
  rec.set_created_at_ms(now);
  auto* body = rec.mutable_lifecycle();
  body->set_change(change);
  if (previous) body->set_previous_state(std::string(to_string(*previous)));
  body->set_new_state(std::string(to_string(d.lifecycle)));
  body->set_actor(actor);
  body->set_detail(detail);
  if (previous_links != nullptr) to_proto(*previous_links, body->mutable_previous_stakeholders());
  if (birth != nullptr) *body->mutable_birth() = *birth;
  auto seq = outbox_.append(rec);
  return seq ? Status::ok() : seq.status();
}

Result<const Device*> Registry::add(const std::string& id, const std::string& class_name, const Stakeholders& links,
                                    const std::string& actor) {
  if (const Device* d = find(id)) {
    return Status::already_exists("device " + id + " is already registered (" + std::string(to_string(d->lifecycle)) +
                                  ")");
  }
  auto e = std::make_unique<Entry>();
  e->id = id;
  e->class_name = class_name;
  e->links = links;
  e->created_ms = e->updated_ms = clock_.unix_ms();
  Status st = db_.transaction([&] {
    if (Status s = write_device(*e); !s) return s;
    if (Status s = write_history(id, e->created_ms, "provisioned", "", class_name, actor); !s) return s;
    return write_lifecycle_record(*e, xrm::v1::LIFECYCLE_CHANGE_PROVISIONED, std::nullopt, actor,
                                  "provisioned as " + class_name);
  });
  if (!st) return st;
  const Device* out = e.get();
  index_.emplace(e->id, e.get());
  devices_.emplace(id, std::move(e));
  return out;
}

Status Registry::note_rotation(const std::string& id, const std::string& actor) {
  Entry* e = find_entry(id);
  if (e == nullptr) return Status::not_found("device " + id + " is not registered");
  const auto now = clock_.unix_ms();
  return db_.transaction([&] {
    if (Status s = write_history(id, now, "credentials", "", "rotated", actor); !s) return s;
    return write_lifecycle_record(*e, xrm::v1::LIFECYCLE_CHANGE_PROVISIONED, e->lifecycle, actor,
                                  "credentials rotated; the old secret no longer works");
  });
}

Result<std::vector<LinkChange>> Registry::link(const std::string& id, const std::map<std::string, std::string>& changes,
                                               const std::string& actor) {
  Entry* e = find_entry(id);
  if (e == nullptr) return Status::not_found("device " + id + " is not registered");
  if (e->lifecycle == Lifecycle::kRetired) return Status::invalid_argument("device " + id + " is retired");
  Stakeholders next = e->links;
  std::vector<LinkChange> out;
  for (const auto& field : kLinkFields) {
    auto it = changes.find(std::string(field));
    if (it == changes.end() || link_field(next, field) == it->second) continue;
    out.push_back({std::string(field), link_field(next, field), it->second});
    link_field(next, field) = it->second;
  }
  if (out.empty()) return out;
  const Stakeholders previous = e->links;
  Device updated = *e;
  updated.links = next;
  updated.updated_ms = clock_.unix_ms();
  std::string detail = "relinked:";
  for (const auto& c : out) detail += " " + c.field + " '" + c.old_value + "' -> '" + c.new_value + "'";
  Status st = db_.transaction([&] {
    if (Status s = write_device(updated); !s) return s;
    for (const auto& c : out) {
      if (Status s = write_history(id, updated.updated_ms, c.field, c.old_value, c.new_value, actor); !s) return s;
    }
    return write_lifecycle_record(updated, xrm::v1::LIFECYCLE_CHANGE_RELINKED, e->lifecycle, actor, detail, &previous);
  });
  if (!st) return st;
  e->links = next;
  e->updated_ms = updated.updated_ms;
  return out;
}

Status Registry::change_lifecycle(Device& d, Lifecycle to, xrm::v1::LifecycleChange change, const std::string& actor,
                                  const std::string& detail) {
  const Lifecycle from = d.lifecycle;
  Device updated = d;
  updated.lifecycle = to;
  updated.updated_ms = clock_.unix_ms();
  if (to == Lifecycle::kRetired) updated.retired_ms = updated.updated_ms;
  Status st = db_.transaction([&] {
    if (Status s = write_device(updated); !s) return s;
    if (Status s = write_history(d.id, updated.updated_ms, "lifecycle", to_string(from), to_string(to), actor); !s) {
      return s;
    }
    return write_lifecycle_record(updated, change, from, actor, detail);
  });
  if (!st) return st;
  d = std::move(updated);
  return Status::ok();
}

Status Registry::retire(const std::string& id, const std::string& actor) {
  Entry* e = find_entry(id);
  if (e == nullptr) return Status::not_found("device " + id + " is not registered");
  if (e->lifecycle == Lifecycle::kRetired) return Status::invalid_argument("device " + id + " is already retired");
  return change_lifecycle(*e, Lifecycle::kRetired, xrm::v1::LIFECYCLE_CHANGE_RETIRED, actor,
                          "retired: credentials revoked, history kept");
}

Status Registry::set_lifecycle(std::string_view id, Lifecycle to, const std::string& actor, const std::string& detail) {
  Entry* e = find_entry(id);
  if (e == nullptr) return Status::not_found("device " + std::string(id) + " is not registered");
  if (!transition_allowed(e->lifecycle, to)) return Status::ok();
  xrm::v1::LifecycleChange change = xrm::v1::LIFECYCLE_CHANGE_UNSPECIFIED;
  switch (to) {
    case Lifecycle::kActive:
      // Back from offline: online again. From degraded or critical (the health stage): active.
      change = e->lifecycle == Lifecycle::kOffline ? xrm::v1::LIFECYCLE_CHANGE_ONLINE : xrm::v1::LIFECYCLE_CHANGE_ACTIVE;
      break;
    case Lifecycle::kOffline: change = xrm::v1::LIFECYCLE_CHANGE_OFFLINE; break;
    case Lifecycle::kRetired: change = xrm::v1::LIFECYCLE_CHANGE_RETIRED; break;
    case Lifecycle::kDegraded:
    case Lifecycle::kCritical: change = xrm::v1::LIFECYCLE_CHANGE_HEALTH_BAND; break;
    default: break;
  }
  return change_lifecycle(*e, to, change, actor, detail);
}

void Registry::note_unknown(std::string_view id, std::string_view topic) {
  ++counters_.unknown_messages;
  const auto now = clock_.unix_ms();
  auto it = unknown_last_record_ms_.find(std::string(id));
  if (it != unknown_last_record_ms_.end()) {
    if (now - it->second < kUnknownRecordIntervalMs) return;
    it->second = now;
  } else {
    // Bounded: a flood of made-up ids cannot grow this map without limit (forgetting means at
    // worst one more record per id).
    if (unknown_last_record_ms_.size() >= kUnknownIdsRemembered) unknown_last_record_ms_.clear();
    unknown_last_record_ms_.emplace(std::string(id), now);
  }
  xrm::v1::InteractionRecord rec;
  rec.set_kind(xrm::v1::RECORD_KIND_LIFECYCLE);
  rec.set_device_id(std::string(id));
  rec.set_span_start_ms(static_cast<std::uint64_t>(now));
  rec.set_span_end_ms(static_cast<std::uint64_t>(now));
  auto* body = rec.mutable_lifecycle();
  body->set_change(xrm::v1::LIFECYCLE_CHANGE_UNKNOWN_DEVICE_SEEN);
  body->set_actor("gateway");
  body->set_detail(std::string(topic));
  if (auto seq = outbox_.append(rec); !seq) {
    XRM_ERROR << "registry: cannot record unknown device " << id << ": " << seq.status().message();
    return;
  }
  ++counters_.unknown_records;
  XRM_WARN << "registry: message from unregistered device id '" << id << "' on " << topic
           << " (provision it with xrmctl provision)";
}

Device* Registry::note_data(std::string_view id, std::string_view topic) {
  Entry* e = find_entry(id);
  if (e == nullptr) {
    note_unknown(id, topic);
    return nullptr;
  }
  return note_data(*e, topic);
}

Device* Registry::note_data(const Device& device, std::string_view topic) {
  // Every Device the registry hands out is one of its entries.
  auto* e = static_cast<Entry*>(const_cast<Device*>(&device));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  const std::string_view id = e->id;
  if (e->lifecycle == Lifecycle::kRetired) {
    ++counters_.retired_messages;
    return nullptr;
  }
  const auto now = clock_.unix_ms();
  const bool first = !e->first_data_ms;
  if (first || e->lifecycle == Lifecycle::kOffline) {
    if (first) e->first_data_ms = now;
    e->last_seen_ms = now;
    ++e->messages;
    const std::string detail = first ? "first data on " + std::string(topic) : "data again after being offline";
    if (Status st = change_lifecycle(*e, Lifecycle::kActive,
                                     first ? xrm::v1::LIFECYCLE_CHANGE_ACTIVE : xrm::v1::LIFECYCLE_CHANGE_ONLINE,
                                     "device", detail);
        !st) {
      XRM_ERROR << "registry: device " << id << ": " << st.message();
    }
    return e;
  }
  e->last_seen_ms = now;
  ++e->messages;
  if (!e->seen_dirty) {
    e->seen_dirty = true;
    seen_dirty_.push_back(e);
  }
  return e;
}

Status Registry::set_online(std::string_view id, bool online) {
  Entry* e = find_entry(id);
  if (e == nullptr) return Status::not_found("device " + std::string(id) + " is not registered");
  if (e->lifecycle == Lifecycle::kRetired || e->online == online) return Status::ok();
  e->online = online;
  if (!online) return set_lifecycle(id, Lifecycle::kOffline, "device", "the device (or its will) said offline");
  // Back from offline; a device that never sent data stays where it is until it does.
  if (e->lifecycle == Lifecycle::kOffline && e->first_data_ms) {
    return set_lifecycle(id, Lifecycle::kActive, "device", "the device said online");
  }
  return Status::ok();
}

Status Registry::note_birth(std::string_view id, const xrm::v1::Birth& birth) {
  Entry* e = find_entry(id);
  if (e == nullptr) return Status::not_found("device " + std::string(id) + " is not registered");
  if (e->lifecycle == Lifecycle::kRetired) return Status::ok();
  const bool firmware_changed = !birth.firmware_version().empty() && birth.firmware_version() != e->firmware;
  const bool model_learned = e->links.model.empty() && !birth.model().empty();
  if (!firmware_changed && !model_learned) return Status::ok();
  Device updated = *e;
  updated.updated_ms = clock_.unix_ms();
  if (firmware_changed) updated.firmware = birth.firmware_version();
  if (model_learned) updated.links.model = birth.model();
  Status st = db_.transaction([&] {
    if (Status s = write_device(updated); !s) return s;
    if (firmware_changed) {
      if (Status s = write_history(e->id, updated.updated_ms, "firmware", e->firmware, updated.firmware, "device"); !s) {
        return s;
      }
    }
    if (model_learned) {
      if (Status s = write_history(e->id, updated.updated_ms, "model", "", updated.links.model, "device"); !s) return s;
    }
    const std::string detail = firmware_changed ? (e->firmware.empty() ? "firmware " + updated.firmware
                                                                       : "firmware " + e->firmware + " -> " + updated.firmware)
                                                : "model " + updated.links.model;
    return write_lifecycle_record(updated, xrm::v1::LIFECYCLE_CHANGE_BIRTH, e->lifecycle, "device", detail, nullptr,
                                  &birth);
  });
  if (!st) return st;
  static_cast<Device&>(*e) = std::move(updated);
  return Status::ok();
}

Status Registry::flush_seen(std::size_t max_devices) {
  if (seen_dirty_.empty()) return Status::ok();
  // The longest-dirty first: seen_dirty_ is in the order devices became dirty.
  const auto n = static_cast<std::ptrdiff_t>(std::min(max_devices, seen_dirty_.size()));
  Status st = db_.transaction([&] {
    auto stmt = db_.prepare("UPDATE devices SET last_seen_ms = ?1, messages = ?2 WHERE id = ?3;");
    if (!stmt) return stmt.status();
    for (auto it = seen_dirty_.begin(); it != seen_dirty_.begin() + n; ++it) {
      const Entry* e = *it;
      stmt->bind_opt(1, e->last_seen_ms).bind(2, static_cast<std::int64_t>(e->messages)).bind(3, e->id);
      if (Status s = stmt->run(); !s) return s;
    }
    return Status::ok();
  });
  if (!st) return st;  // still dirty; the next flush tries again
  for (auto it = seen_dirty_.begin(); it != seen_dirty_.begin() + n; ++it) (*it)->seen_dirty = false;
  seen_dirty_.erase(seen_dirty_.begin(), seen_dirty_.begin() + n);
  return Status::ok();
}

Result<std::vector<HistoryEntry>> Registry::history(std::string_view id, std::size_t limit) {
  auto stmt = db_.prepare(
      "SELECT at_ms, what, old, new, actor FROM (SELECT * FROM device_history WHERE device = ?1 ORDER BY id DESC "
      "LIMIT ?2) ORDER BY id ASC;");
  if (!stmt) return stmt.status();
  stmt->bind(1, id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<HistoryEntry> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back({stmt->column_int(0), stmt->column_text(1), stmt->column_text(2), stmt->column_text(3),
                   stmt->column_text(4)});
  }
  return out;
}

}  // namespace xrm::registry
