#pragma once
// The device registry: every device the gateway admits, as a stakeholder linked to its owner
// customer, site, technician, supplier and model, with its lifecycle and the history of every
// relationship change. Kept in SQLite (table devices, device_history) and mirrored in memory, so
// lookups on the message path and listings for xrmctl never touch the disk.
//
// Every change of class, lifecycle, links or firmware is written in one transaction together with
// its history entry and its `lifecycle` interaction record in the outbox: either all three are
// durable or none is. Traffic bookkeeping (last seen, message counts) stays in memory and is
// written in one batch by flush_seen(), so the message path does no SQL per message.
// Used from the io thread only.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/common/status.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/registry/device.hpp"
#include "xrm/store/database.hpp"

namespace xrm::registry {

// A change of one link field, as reported to xrmctl link.
struct LinkChange {
  std::string field;
  std::string old_value;
  std::string new_value;
};

// Counters of traffic the registry turned away.
struct TrafficCounters {
  std::uint64_t unknown_messages = 0;   // device id not registered
  std::uint64_t retired_messages = 0;   // device retired
  std::uint64_t unknown_records = 0;    // "unknown device seen" lifecycle records written
};

class Registry {
 public:
  // At most one "unknown device seen" record per device id per this interval.
  static constexpr std::int64_t kUnknownRecordIntervalMs = 3600 * 1000;
  // How many unregistered ids that limit is remembered for.
  static constexpr std::size_t kUnknownIdsRemembered = 10000;

  // db, outbox and clock must outlive the Registry.
  Registry(store::Database& db, outbox::Outbox& outbox, const Clock& clock);

  // Reads every device into memory. Call once, before anything else.
  Status load();

  const Device* find(std::string_view id) const;
  // Every device, sorted by id.
  std::vector<const Device*> list() const;
  std::size_t size() const { return devices_.size(); }
  std::map<std::string, std::uint64_t> count_by_lifecycle() const;
  const TrafficCounters& counters() const { return counters_; }

  // Registers a new device (lifecycle provisioned). already_exists if the id is known (retired
  // ids included: they keep their history). The caller has validated id and class and created
  // the broker credentials.
  Result<const Device*> add(const std::string& id, const std::string& class_name, const Stakeholders& links,
                            const std::string& actor);
  // Notes that the device's credentials were replaced (history + lifecycle record).
  Status note_rotation(const std::string& id, const std::string& actor);
  // Changes the given link fields (absent: unchanged; empty: unlinked). Returns what changed,
  // nothing if the values were already so (then nothing is written).
  Result<std::vector<LinkChange>> link(const std::string& id, const std::map<std::string, std::string>& changes,
                                       const std::string& actor);
  // Marks the device retired; its history and records stay.
  Status retire(const std::string& id, const std::string& actor);

  // Message path. A data message (telemetry, event, command result) from a registered, not retired device:
  // counts it and updates last seen in memory; the first ever data moves provisioned -> active,
  // and data after offline moves it back to active (both written at once, with records).
  // Returns the device, or nullptr when the message is not accepted (unknown or retired; counted,
  // and for unknown ids a rate-limited "unknown device seen" record is written).
  Device* note_data(std::string_view id, std::string_view topic);
  // The same for a device already found (one lookup less on the message path). `device` must have
  // come from this registry.
  Device* note_data(const Device& device, std::string_view topic);
  // The device's state topic said online or offline.
  Status set_online(std::string_view id, bool online);
  // The device's birth message: firmware (and model when no technician set one). A firmware
  // change is written with a history entry and a lifecycle record carrying the birth.
  Status note_birth(std::string_view id, const xrm::v1::Birth& birth);
  // Moves the lifecycle (health bands, silence); no-op when already there or not allowed.
  Status set_lifecycle(std::string_view id, Lifecycle to, const std::string& actor, const std::string& detail);

  // Writes last seen and message counts of devices that changed since the last flush (at most
  // max_devices of them, the longest-dirty first), in one transaction. The daemon calls it
  // periodically, in slices, and at shutdown for all.
  Status flush_seen(std::size_t max_devices = SIZE_MAX);
  // Devices whose last seen and message count wait for flush_seen().
  std::size_t seen_dirty() const { return seen_dirty_.size(); }

  // The newest `limit` history entries of a device, oldest first.
  Result<std::vector<HistoryEntry>> history(std::string_view id, std::size_t limit);

 private:
  Status write_device(const Device& d);
  Status write_history(const std::string& id, std::int64_t at_ms, std::string_view what, std::string_view old_value,
                       std::string_view new_value, std::string_view actor);
  Status write_lifecycle_record(const Device& d, xrm::v1::LifecycleChange change, std::optional<Lifecycle> previous,
                                const std::string& actor, const std::string& detail,
                                const Stakeholders* previous_links = nullptr, const xrm::v1::Birth* birth = nullptr);
  Status change_lifecycle(Device& d, Lifecycle to, xrm::v1::LifecycleChange change, const std::string& actor,
                          const std::string& detail);
  void note_unknown(std::string_view id, std::string_view topic);

  // A device plus the registry's own bookkeeping.
  struct Entry : Device {
    bool seen_dirty = false;  // last seen / messages changed since the last flush
  };
  Entry* find_entry(std::string_view id);

  store::Database& db_;
  outbox::Outbox& outbox_;
  const Clock& clock_;
  // Keyed by id; std::less<> lets the message path look up a string_view without a copy.
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> devices_;
  // The message path's lookup: hashed, keyed by a view of the entry's own id (entries never move).
  // FNV-1a: ids are short (at most 64 bytes), so a simple byte loop beats the general-purpose
  // std::hash on the message path.
  struct IdHash {
    std::size_t operator()(std::string_view id) const noexcept {
      std::uint64_t h = 14695981039346656037ULL;
      for (unsigned char c : id) h = (h ^ c) * 1099511628211ULL;
      return static_cast<std::size_t>(h);
    }
  };
  std::unordered_map<std::string_view, Entry*, IdHash> index_;
  std::vector<Entry*> seen_dirty_;
  std::unordered_map<std::string, std::int64_t> unknown_last_record_ms_;
  TrafficCounters counters_;
};

}  // namespace xrm::registry
