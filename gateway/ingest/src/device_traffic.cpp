#include "xrm/ingest/device_traffic.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>

#include "xrm/common/log.hpp"
#include "xrm/common/units.hpp"
#include "xrm/registry/device.hpp"

namespace xrm::ingest {
namespace {

constexpr std::string_view kDevPrefix = "xrm/v1/dev/";
constexpr auto kRateWindow = std::chrono::seconds(10);

// A birth payload: protobuf Birth, or JSON with the same field names. Payloads starting with '{'
// are JSON (the schema guarantees no protobuf payload does).
bool decode_birth(std::string_view payload, xrm::v1::Birth& out) {
  if (!payload.empty() && payload.front() == '{') {
    auto doc = nlohmann::json::parse(payload, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return false;
    if (auto it = doc.find("model"); it != doc.end() && it->is_string()) out.set_model(it->get<std::string>());
    if (auto it = doc.find("firmware_version"); it != doc.end() && it->is_string()) {
      out.set_firmware_version(it->get<std::string>());
    }
    if (auto it = doc.find("capabilities"); it != doc.end() && it->is_array()) {
      for (const auto& c : *it) {
        if (c.is_string()) out.add_capabilities(c.get<std::string>());
      }
    }
    if (auto it = doc.find("ts"); it != doc.end() && it->is_number_unsigned()) out.set_ts(it->get<std::uint64_t>());
    return true;
  }
  return out.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
}

// A command result: protobuf CommandResult, or a JSON object with the same field names (only
// request_id, status and message are read; status as the enum's name or number).
bool decode_command_result(std::string_view payload, xrm::v1::CommandResult& out) {
  out.Clear();
  if (!payload.empty() && payload.front() == '{') {
    auto doc = nlohmann::json::parse(payload, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return false;
    if (auto it = doc.find("request_id"); it != doc.end() && it->is_string()) {
      out.set_request_id(it->get<std::string>());
    }
    if (auto it = doc.find("message"); it != doc.end() && it->is_string()) out.set_message(it->get<std::string>());
    if (auto it = doc.find("status"); it != doc.end()) {
      xrm::v1::CommandStatus status = xrm::v1::COMMAND_STATUS_UNSPECIFIED;
      if (it->is_string()) {
        std::string name = it->get<std::string>();
        for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (name.rfind("COMMAND_STATUS_", 0) != 0) name = "COMMAND_STATUS_" + name;
        xrm::v1::CommandStatus_Parse(name, &status);
      } else if (it->is_number_integer() && xrm::v1::CommandStatus_IsValid(it->get<int>())) {
        status = static_cast<xrm::v1::CommandStatus>(it->get<int>());
      }
      out.set_status(status);
    }
    return true;
  }
  return out.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
}

}  // namespace

bool parse_device_topic(std::string_view topic, std::string_view& device, Leaf& leaf) {
  if (topic.substr(0, kDevPrefix.size()) != kDevPrefix) return false;
  const std::string_view rest = topic.substr(kDevPrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return false;
  device = rest.substr(0, slash);
  if (!is_valid_id(device)) return false;
  const std::string_view l = rest.substr(slash + 1);
  if (l == "tele") leaf = Leaf::kTele;
  else if (l == "evt") leaf = Leaf::kEvt;
  else if (l == "birth") leaf = Leaf::kBirth;
  else if (l == "state") leaf = Leaf::kState;
  else if (l == "cmd-res") leaf = Leaf::kCmdRes;
  else return false;
  return true;
}

DeviceTraffic::DeviceTraffic(store::Database& db, registry::Registry& registry, outbox::Outbox& outbox,
                             DeadLetters& dead_letters, const Clock& clock, DecodeLimits limits)
    : db_(db),
      registry_(registry),
      outbox_(outbox),
      dead_letters_(dead_letters),
      clock_(clock),
      decoder_(limits),
      window_start_(clock.steady_now()) {}

void DeviceTraffic::tick() {
  const auto now = clock_.steady_now();
  if (now - window_start_ < kRateWindow) return;
  const auto elapsed = std::chrono::duration<double>(now - window_start_).count();
  // A window with no traffic at all ends here too, at the next message.
  last_rate_ = static_cast<double>(window_messages_) / elapsed;
  window_start_ = now;
  window_messages_ = 0;
}

double DeviceTraffic::rate_per_s() const {
  if (clock_.steady_now() - window_start_ >= 2 * kRateWindow) return 0;  // silent since the last window
  return last_rate_;
}

const DeviceIngest* DeviceTraffic::device(std::string_view id) const {
  const registry::Device* d = registry_.find(id);
  if (d == nullptr) return nullptr;
  auto it = devices_.find(d);
  return it == devices_.end() ? nullptr : &it->second;
}

SequenceCounters DeviceTraffic::telemetry_sequence() const {
  SequenceCounters sum;
  for (const auto& [d, st] : devices_) sum += st.telemetry.counters();
  return sum;
}

SequenceCounters DeviceTraffic::event_sequence() const {
  SequenceCounters sum;
  for (const auto& [d, st] : devices_) sum += st.events.counters();
  return sum;
}

DeviceIngest& DeviceTraffic::state_of(const registry::Device& d) { return devices_[&d]; }

void DeviceTraffic::dead_letter(DeviceIngest& st, std::string_view topic, std::string_view reason,
                                std::string_view payload) {
  ++stats_.dead_letters;
  ++st.dead_letters;
  dead_letters_.add(topic, reason, payload);
  XRM_DEBUG << "ingest: " << topic << ": dead letter: " << reason;
}

bool DeviceTraffic::admitted(std::string_view device, std::string_view topic, const registry::Device*& out) {
  out = registry_.find(device);
  if (out != nullptr && out->lifecycle != registry::Lifecycle::kRetired) return true;
  registry_.note_data(device, topic);  // counts it (and records an unknown device)
  return false;
}

void DeviceTraffic::handle(std::string_view topic, std::string_view payload, std::uint64_t journal_id) {
  tick();
  ++stats_.messages;
  ++window_messages_;
  stats_.bytes += payload.size();
  std::string_view device;
  Leaf leaf{};
  if (!parse_device_topic(topic, device, leaf)) {
    ++stats_.bad_topic;
  } else if (leaf == Leaf::kEvt) {
    handle_event(device, topic, payload, journal_id);
    return;  // deletes its journal entry itself, with the record
  } else {
    handle_leaf(leaf, device, topic, payload);
  }
  if (journal_id != 0) {
    if (Status st = InboundJournal::remove(db_, journal_id); !st) {
      XRM_ERROR << "ingest: " << topic << ": inbound journal: " << st.message();
    }
  }
}

void DeviceTraffic::handle_leaf(Leaf leaf, std::string_view device, std::string_view topic, std::string_view payload) {
  switch (leaf) {
    case Leaf::kTele:
      handle_telemetry(device, topic, payload);
      return;
    case Leaf::kEvt:
      return;  // handle_event
    case Leaf::kCmdRes: {
      const registry::Device* d = nullptr;
      if (!admitted(device, topic, d)) return;
      if (payload.size() > decoder_.limits().max_payload) {
        dead_letter(state_of(*d), topic, "cmd-res payload larger than ingest.max_payload", payload);
        return;
      }
      if (!decode_command_result(payload, command_result_)) {
        dead_letter(state_of(*d), topic, "cmd-res payload is neither a JSON object nor a protobuf CommandResult",
                    payload);
        return;
      }
      ++stats_.accepted;
      registry_.note_data(*d, topic);
      if (on_command_result_) on_command_result_(*d, command_result_);
      return;
    }
    case Leaf::kState: {
      const registry::Device* d = nullptr;
      if (!admitted(device, topic, d)) return;
      if (payload != "online" && payload != "offline") {
        dead_letter(state_of(*d), topic, "state payload must be online or offline", payload);
        return;
      }
      ++stats_.accepted;
      if (Status st = registry_.set_online(device, payload == "online"); !st) {
        XRM_ERROR << "ingest: " << topic << ": " << st.message();
      }
      return;
    }
    case Leaf::kBirth: {
      const registry::Device* d = nullptr;
      if (!admitted(device, topic, d)) return;
      if (payload.empty()) return;  // a cleared retained birth
      xrm::v1::Birth birth;
      if (payload.size() > decoder_.limits().max_payload) {
        dead_letter(state_of(*d), topic, "birth payload larger than ingest.max_payload", payload);
        return;
      }
      if (!decode_birth(payload, birth)) {
        dead_letter(state_of(*d), topic, "birth payload is neither a JSON object nor a protobuf Birth", payload);
        return;
      }
      ++stats_.accepted;
      if (DeviceIngest& in = state_of(*d); birth.ts() != 0 && birth.ts() != in.birth_ts) {
        // A new birth time: the device restarted, so its numbering starts again.
        if (in.birth_ts != 0) {
          in.telemetry.restart();
          in.events.restart();
        }
        in.birth_ts = birth.ts();
      }
      if (Status st = registry_.note_birth(device, birth); !st) {
        XRM_ERROR << "ingest: " << topic << ": " << st.message();
      }
      return;
    }
  }
}

void DeviceTraffic::handle_telemetry(std::string_view device, std::string_view topic, std::string_view payload) {
  const registry::Device* d = nullptr;
  if (!admitted(device, topic, d)) return;
  DeviceIngest& st = state_of(*d);
  if (Status s = decoder_.decode_telemetry(payload, sample_); !s) {
    dead_letter(st, topic, s.message(), payload);
    return;
  }
  ++stats_.accepted;
  ++stats_.telemetry;
  stats_.ignored_fields += sample_.ignored_fields;
  st.ignored_fields += sample_.ignored_fields;
  registry_.note_data(*d, topic);  // last seen; first data makes it active
  st.telemetry.note(sample_.seq);
  constexpr std::uint64_t kMaxTs = std::numeric_limits<std::int64_t>::max();
  const std::int64_t ts =
      sample_.ts_ms != 0 && sample_.ts_ms <= kMaxTs ? static_cast<std::int64_t>(sample_.ts_ms) : clock_.unix_ms();
  // Latest reading per metric, updated in place: allocates only for a name not seen before.
  for (const auto& m : sample_.metrics) {
    auto it = std::find_if(st.readings.begin(), st.readings.end(), [&](const auto& r) { return r.first == m.name; });
    if (it != st.readings.end()) {
      it->second = m.value;
    } else if (st.readings.size() < kMaxReadings) {
      st.readings.emplace_back(std::string(m.name), m.value);
    }
  }
  st.readings_ms = ts;
  sample_.bytes = payload.size();
  if (on_telemetry_) on_telemetry_(*d, sample_, ts, st);
}

void DeviceTraffic::handle_event(std::string_view device, std::string_view topic, std::string_view payload,
                                 std::uint64_t journal_id) {
  // Whatever happens to the event, its journal entry goes: with the record when there is one.
  auto forget = [&] {
    if (journal_id == 0) return;
    if (Status st = InboundJournal::remove(db_, journal_id); !st) {
      XRM_ERROR << "ingest: " << topic << ": inbound journal: " << st.message();
    }
  };
  const registry::Device* d = nullptr;
  if (!admitted(device, topic, d)) return forget();
  DeviceIngest& st = state_of(*d);
  std::uint32_t ignored = 0;
  if (Status s = decoder_.decode_event(payload, event_, ignored); !s) {
    dead_letter(st, topic, s.message(), payload);
    return forget();
  }
  ++stats_.accepted;
  stats_.ignored_fields += ignored;
  st.ignored_fields += ignored;
  registry_.note_data(*d, topic);
  st.events.note(event_.seq());
  const auto now = static_cast<std::uint64_t>(clock_.unix_ms());
  const std::uint64_t at = event_.ts() != 0 ? event_.ts() : now;
  xrm::v1::InteractionRecord rec;
  rec.set_kind(xrm::v1::RECORD_KIND_EVENT);
  registry::fill_record_header(*d, at, at, rec);
  rec.set_created_at_ms(now);
  auto* body = rec.mutable_event();
  *body->mutable_event() = event_;
  body->set_received_at_ms(now);
  // The record, its key and the end of the journal entry commit together: exactly once. The same
  // seq and device time again (a device retry, a broker redelivery, a journal replay after a crash
  // meeting the broker's redelivery) is recorded once. Without a device time a repeated number is
  // recorded again: a rebooted device's new event must not be lost.
  bool duplicate = false;
  Status written = db_.transaction([&]() -> Status {
    if (event_.ts() != 0) {
      auto key = db_.prepare("INSERT OR IGNORE INTO event_keys (device, seq, ts, at_ms) VALUES (?, ?, ?, ?);");
      if (!key) return key.status();
      key->bind(1, d->id).bind(2, static_cast<std::int64_t>(event_.seq()));
      key->bind(3, static_cast<std::int64_t>(event_.ts())).bind(4, static_cast<std::int64_t>(now));
      if (Status s = key->run(); !s) return s;
      duplicate = sqlite3_changes(db_.handle()) == 0;
      auto prune = db_.prepare("DELETE FROM event_keys WHERE device = ? AND at_ms < ?;");
      if (!prune) return prune.status();
      prune->bind(1, d->id).bind(2, static_cast<std::int64_t>(now) - kEventKeyTtlMs);
      if (Status s = prune->run(); !s) return s;
    }
    if (!duplicate) {
      if (auto seq = outbox_.append(rec); !seq) return seq.status();
      // The service history the scorecards read (gateway/scorecard), in the same transaction.
      auto hist = db_.prepare(
          "INSERT INTO service_events (device, at_ms, type, code, technician, request_id, score) "
          "VALUES (?, ?, ?, ?, ?, ?, ?);");
      if (!hist) return hist.status();
      hist->bind(1, d->id).bind(2, static_cast<std::int64_t>(now)).bind(3, event_.type());
      hist->bind(4, event_.has_code() ? event_.code() : std::string()).bind(5, event_.technician());
      hist->bind(6, event_.request_id());
      if (event_.has_score()) {
        hist->bind_double(7, event_.score());
      } else {
        hist->bind_null(7);
      }
      if (Status s = hist->run(); !s) return s;
    }
    return journal_id != 0 ? InboundJournal::remove(db_, journal_id) : Status::ok();
  });
  if (written && duplicate) {
    ++stats_.duplicate_events;
    XRM_DEBUG << "ingest: " << topic << ": event seq " << event_.seq() << " recorded before; not again";
    return;
  }
  if (!written) {
    // The journal entry stays (when there is one) and is replayed at the next start.
    ++stats_.record_errors;
    XRM_ERROR << "ingest: " << topic << ": event seq " << event_.seq() << " could not be recorded"
              << (journal_id != 0 ? " (kept in the inbound journal for the next start)" : "") << ": "
              << written.message();
    return;
  }
  ++stats_.events;
  if (st.recent_events.size() >= kRecentEvents) st.recent_events.erase(st.recent_events.begin());
  st.recent_events.emplace_back(static_cast<std::int64_t>(now), event_);
  if (on_event_) on_event_(*d, event_);
}

}  // namespace xrm::ingest
