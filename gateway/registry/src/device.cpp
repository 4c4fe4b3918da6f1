#include "xrm/registry/device.hpp"

#include <array>
#include <stdexcept>

namespace xrm::registry {
namespace {

constexpr std::array<std::string_view, 6> kNames = {"provisioned", "active", "degraded",
                                                    "critical",    "offline", "retired"};

}  // namespace

void to_proto(const Stakeholders& s, xrm::v1::Stakeholders* out) {
  out->set_owner(s.owner);
  out->set_site(s.site);
  out->set_technician(s.technician);
  out->set_supplier(s.supplier);
  out->set_model(s.model);
}

void fill_record_header(const Device& d, std::uint64_t span_start_ms, std::uint64_t span_end_ms,
                        xrm::v1::InteractionRecord& rec) {
  rec.set_device_id(d.id);
  to_proto(d.links, rec.mutable_stakeholders());
  rec.set_span_start_ms(span_start_ms);
  rec.set_span_end_ms(span_end_ms);
  rec.set_profile_class(d.class_name);
}

std::string_view to_string(Lifecycle lifecycle) { return kNames[static_cast<std::size_t>(lifecycle)]; }

std::optional<Lifecycle> parse_lifecycle(std::string_view text) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == text) return static_cast<Lifecycle>(i);
  }
  return std::nullopt;
}

bool transition_allowed(Lifecycle from, Lifecycle to) {
  if (from == to || from == Lifecycle::kRetired || to == Lifecycle::kProvisioned) return false;
  // From provisioned only first data (active), going offline, or retirement: a device with no data
  // yet has no health to be degraded or critical about.
  if (from == Lifecycle::kProvisioned) {
    return to == Lifecycle::kActive || to == Lifecycle::kOffline || to == Lifecycle::kRetired;
  }
  return true;
}

std::string& link_field(Stakeholders& s, std::string_view name) {
  if (name == "owner") return s.owner;
  if (name == "site") return s.site;
  if (name == "technician") return s.technician;
  if (name == "supplier") return s.supplier;
  if (name == "model") return s.model;
  throw std::invalid_argument("unknown link field " + std::string(name));
}

const std::string& link_field(const Stakeholders& s, std::string_view name) {
  return link_field(const_cast<Stakeholders&>(s), name);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
}

}  // namespace xrm::registry
