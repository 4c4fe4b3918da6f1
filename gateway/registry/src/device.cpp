#include "xrm/registry/device.hpp"

#include <array>
#include <stdexcept>

namespace xrm::registry {
namespace {

constexpr std::array<std::string_view, 6> kNames = {"provisioned", "active", "degraded",
                                                    "critical",    "offline", "retired"};

}  // namespace

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
