#pragma once
// QR codes as terminal text, so a technician can scan a device's provisioning URI off the screen.
#include <string>
#include <string_view>
#include <vector>

#include "xrm/common/status.hpp"

namespace xrm::xrmctl {

// Modules of light margin drawn around the symbol. The standard asks for 4; 2 is what phone
// scanners need in practice and keeps the code on an 80x24 terminal for longer URIs.
inline constexpr int kQrQuietZone = 2;

// text as a QR code (error correction M, 8-bit mode, case-sensitive; libqrencode picks the
// smallest version), one string per terminal line, two module rows per line drawn with the
// Unicode half blocks. Every line has the same display width: the symbol's size plus the quiet
// zone on both sides. Fails with invalid_argument when text is empty, holds a NUL, or is too long
// for any QR version.
Result<std::vector<std::string>> render_qr(std::string_view text);

}  // namespace xrm::xrmctl
