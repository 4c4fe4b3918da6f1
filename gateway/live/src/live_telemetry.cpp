#include "xrm/live/live_telemetry.hpp"

#include <cmath>
#include <vector>

#include "xrm/proto/xrm.pb.h"

namespace xrm::live {

LiveTelemetry::LiveTelemetry(std::string gateway_id, const Clock& clock, PublishFn publish)
    : gateway_id_(std::move(gateway_id)), clock_(clock), publish_(std::move(publish)) {}

std::string LiveTelemetry::topic(std::string_view gateway_id, std::string_view device) {
  return "xrm/v1/gw/" + std::string(gateway_id) + "/tele/" + std::string(device);
}

void LiveTelemetry::set_profiles(const health::Profiles& profiles) {
  settings_.clear();
  for (const auto& p : profiles.profiles) {
    if (p.live.enabled()) settings_.emplace(p.class_name, p.live);
  }
  for (auto it = devices_.begin(); it != devices_.end();) {
    it = settings_.count(it->second.class_name) == 0 ? devices_.erase(it) : std::next(it);
  }
}

void LiveTelemetry::forget(std::string_view device) { devices_.erase(std::string(device)); }

void LiveTelemetry::on_telemetry(const registry::Device& device, const ingest::TelemetrySample& sample) {
  if (settings_.empty()) return;
  const auto found = settings_.find(device.class_name);
  if (found == settings_.end()) return;
  const health::LiveSettings& s = found->second;
  const auto now = clock_.steady_now();

  DeviceState& st = devices_[device.id];
  if (st.class_name != device.class_name) {  // new, or its class changed: start over
    st = DeviceState{};
    st.class_name = device.class_name;
  }
  const bool heartbeat = s.max_interval.count() > 0 && st.last_message && now - *st.last_message >= s.max_interval;

  // The metrics this message would carry: those that moved past their deadband, or with a
  // heartbeat every selected one.
  std::vector<const ingest::MetricValue*> picked;
  bool selected = false;
  for (const auto& m : sample.metrics) {
    if (!s.selects(m.name)) continue;
    selected = true;
    const auto last = st.last_sent.find(m.name);
    // Written so that a NaN reading counts as a move.
    const bool moved = last == st.last_sent.end() || !(std::fabs(m.value - last->second) <= s.deadband_of(m.name));
    if (moved || heartbeat) picked.push_back(&m);
  }
  if (!selected) return;  // nothing this class forwards
  if (picked.empty()) {
    ++counters_.suppressed_deadband;
    return;
  }
  if (st.last_message && now - *st.last_message < s.interval) {
    ++counters_.suppressed_rate;
    return;
  }

  xrm::v1::Telemetry msg;
  msg.set_seq(sample.seq);
  const std::int64_t now_ms = clock_.unix_ms();
  msg.set_ts(now_ms > 0 ? static_cast<std::uint64_t>(now_ms) : 0);
  for (const auto* m : picked) {
    auto* out = msg.add_metrics();
    out->set_name(std::string(m->name));
    out->set_value(m->value);
  }
  st.last_message = now;
  if (!publish_ || !publish_(topic(gateway_id_, device.id), msg.SerializeAsString())) {
    ++counters_.dropped_offline;
    return;
  }
  ++counters_.sent;
  for (const auto* m : picked) {
    auto it = st.last_sent.find(m->name);
    if (it != st.last_sent.end()) {
      it->second = m->value;
      continue;
    }
    if (st.last_sent.size() >= kMaxMetrics) st.last_sent.clear();  // bounded: forget, start over
    st.last_sent.emplace(std::string(m->name), m->value);
  }
}

}  // namespace xrm::live
