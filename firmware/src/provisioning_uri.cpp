#include "xrm/device/provisioning_uri.hpp"

#include <utility>

namespace xrm::device {
namespace {

constexpr std::string_view kScheme = "xrm-provision:";
constexpr std::string_view kVersion = "v1";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    const int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
    const int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

Status ProvisioningUri::parse(std::string_view text, ProvisioningUri& out) {
  if (text.substr(0, kScheme.size()) != kScheme) {
    return Status::error("provisioning URI: unknown scheme (expected \"xrm-provision:\")");
  }
  text.remove_prefix(kScheme.size());
  const auto q = text.find('?');
  const std::string_view version = text.substr(0, q);
  if (version != kVersion) {
    return Status::error("provisioning URI: unknown version \"" + std::string(version) + "\" (expected v1)");
  }
  if (q == std::string_view::npos) return Status::error("provisioning URI: no query (missing key gw)");
  std::string_view query = text.substr(q + 1);

  ProvisioningUri uri;
  bool seen[4] = {false, false, false, false};
  constexpr std::string_view kKeys[4] = {"gw", "device", "url", "password"};
  std::string* fields[4] = {&uri.gateway, &uri.device, &uri.url, &uri.password};
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    for (int k = 0; k < 4; ++k) {
      if (key != kKeys[k]) continue;
      if (seen[k]) return Status::error("provisioning URI: key " + std::string(key) + " given twice");
      seen[k] = true;
      if (!percent_decode(raw, *fields[k])) {
        return Status::error("provisioning URI: bad percent escape in " + std::string(key));
      }
    }
  }
  for (int k = 0; k < 4; ++k) {
    if (!seen[k]) return Status::error("provisioning URI: missing key " + std::string(kKeys[k]));
    if (fields[k]->empty()) return Status::error("provisioning URI: empty value for " + std::string(kKeys[k]));
  }
  if (!is_valid_id(uri.device)) {
    return Status::error("provisioning URI: invalid device id \"" + uri.device + "\" (1 to 64 of A-Z a-z 0-9 . _ -)");
  }
  if (!is_valid_id(uri.gateway)) {
    return Status::error("provisioning URI: invalid gateway id \"" + uri.gateway + "\" (1 to 64 of A-Z a-z 0-9 . _ -)");
  }
  out = std::move(uri);
  return Status::ok();
}

}  // namespace xrm::device
