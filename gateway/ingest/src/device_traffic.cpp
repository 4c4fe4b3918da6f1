#include "xrm/ingest/device_traffic.hpp"

#include <nlohmann/json.hpp>

#include "xrm/common/log.hpp"
#include "xrm/common/units.hpp"

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

DeviceTraffic::DeviceTraffic(registry::Registry& registry, const Clock& clock)
    : registry_(registry), clock_(clock), window_start_(clock.steady_now()) {}

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

void DeviceTraffic::handle(std::string_view topic, std::string_view payload) {
  tick();
  ++stats_.messages;
  ++window_messages_;
  stats_.bytes += payload.size();
  std::string_view device;
  Leaf leaf{};
  if (!parse_device_topic(topic, device, leaf)) {
    ++stats_.bad_topic;
    return;
  }
  switch (leaf) {
    case Leaf::kTele:
    case Leaf::kEvt:
    case Leaf::kCmdRes:
      if (registry_.note_data(device, topic) != nullptr) ++stats_.accepted;
      return;
    case Leaf::kState: {
      const registry::Device* d = registry_.find(device);
      if (d == nullptr || d->lifecycle == registry::Lifecycle::kRetired) {
        registry_.note_data(device, topic);  // counts it (and records an unknown device)
        return;
      }
      if (payload != "online" && payload != "offline") {
        ++stats_.bad_payload;
        XRM_WARN << "ingest: " << topic << ": state payload is neither online nor offline";
        return;
      }
      ++stats_.accepted;
      if (Status st = registry_.set_online(device, payload == "online"); !st) {
        XRM_ERROR << "ingest: " << topic << ": " << st.message();
      }
      return;
    }
    case Leaf::kBirth: {
      const registry::Device* d = registry_.find(device);
      if (d == nullptr || d->lifecycle == registry::Lifecycle::kRetired) {
        registry_.note_data(device, topic);
        return;
      }
      if (payload.empty()) return;  // a cleared retained birth
      xrm::v1::Birth birth;
      if (!decode_birth(payload, birth)) {
        ++stats_.bad_payload;
        XRM_WARN << "ingest: " << topic << ": birth payload is neither JSON nor a protobuf Birth";
        return;
      }
      ++stats_.accepted;
      if (Status st = registry_.note_birth(device, birth); !st) {
        XRM_ERROR << "ingest: " << topic << ": " << st.message();
      }
      return;
    }
  }
}

}  // namespace xrm::ingest
