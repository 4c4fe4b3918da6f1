#pragma once
// The human view of each verb's result (shapes in docs/contract.md and the control protocol).
// Each function takes the daemon's result as it came and returns the text to print, ending in a
// newline. Missing fields, nulls and unexpected types print as "-"; none of them throws.
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace xrm::xrmctl {

// A device's stakeholder links, in display order: the keys of every "stakeholders" object and the
// options of provision and link.
inline constexpr std::array<std::string_view, 5> kStakeholderFields = {"owner", "site", "technician", "supplier",
                                                                       "model"};

// The credentials block the technician copies into the device, then qr_lines (may be empty),
// then the reminder that the password is shown only this once.
std::string render_provision(const nlohmann::json& result, const std::vector<std::string>& qr_lines);

// One table row per device, in the order received, then "N devices". now_ms dates "last seen".
std::string render_devices(const nlohmann::json& result, std::int64_t now_ms);

// One device in sections: identity and lifecycle, stakeholders, health, open alerts, counters (with
// the telemetry and event sequence figures), latest readings, relationship history, recent events.
// now_ms dates "last seen" and the readings.
std::string render_show(const nlohmann::json& result, std::int64_t now_ms);

// One line per changed link ("owner: acme -> globex"), or "nothing changed".
std::string render_link(const nlohmann::json& result);

// "pump-17 retired (was active); its credentials are revoked, its history is kept."
std::string render_retire(const nlohmann::json& result);

// The gateway as aligned key/value lines.
std::string render_status(const nlohmann::json& result);

// One table row per dead letter, in the order received (the daemon sends newest first), then a line
// with the table's counts. The payload's first bytes (head_hex) print as ASCII, '.' for any byte
// that is not printable, so a binary or hostile payload cannot drive the terminal.
std::string render_dead_letters(const nlohmann::json& result);
// rules-reload: the file and the classes now in force.
std::string render_rules_reload(const nlohmann::json& result);

// `rank`: a ranked table (rank, stakeholder, score, devices, the role's main figures), then each
// stakeholder's sentence on what moved its score.
std::string render_rank(const nlohmann::json& result);

// Hex text as the bytes it encodes, each printable ASCII byte (0x20 to 0x7e) as itself and any other
// as '.'; a pair that is not hex reads '?', and an odd last digit is ignored.
std::string printable_head(std::string_view hex);

}  // namespace xrm::xrmctl
