#include "xrmctl/qr.hpp"

#include <qrencode.h>

#include <cerrno>
#include <memory>
#include <system_error>

namespace xrm::xrmctl {

Result<std::vector<std::string>> render_qr(std::string_view text) {
  if (text.empty()) return Status::invalid_argument("QR code: nothing to encode");
  if (text.find('\0') != std::string_view::npos) return Status::invalid_argument("QR code: text holds a NUL byte");
  const std::string input{text};
  errno = 0;
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code{
      QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free};
  if (!code) {
    if (errno == ERANGE) {
      return Status::invalid_argument("QR code: " + std::to_string(text.size()) +
                                      " bytes are too many for a QR code (error correction M)");
    }
    return Status::invalid_argument("QR code: " + std::generic_category().message(errno));
  }

  // Drawn for a dark-on-light terminal: a dark module is a foreground (ink) glyph and the light
  // quiet zone is blank, so the symbol has the polarity scanners expect. On a light-on-dark
  // terminal it shows inverted, which most phone scanners still read.
  const int size = code->width;
  const int span = size + 2 * kQrQuietZone;
  auto dark = [&](int row, int col) {
    const int r = row - kQrQuietZone;
    const int c = col - kQrQuietZone;
    if (r < 0 || c < 0 || r >= size || c >= size) return false;
    return (code->data[r * size + c] & 1) != 0;  // bit 0 of each module byte: 1 is dark
  };
  std::vector<std::string> lines;
  for (int row = 0; row < span; row += 2) {
    std::string line;
    for (int col = 0; col < span; ++col) {
      const bool top = dark(row, col);
      const bool bottom = dark(row + 1, col);  // past the last row: light
      line += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace xrm::xrmctl
