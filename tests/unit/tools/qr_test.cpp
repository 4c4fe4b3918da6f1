#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "xrmctl/format.hpp"
#include "xrmctl/qr.hpp"

using xrm::xrmctl::display_width;
using xrm::xrmctl::kQrQuietZone;
using xrm::xrmctl::render_qr;

namespace {

// The half-block text back to a module matrix (true = dark), two rows per line.
std::vector<std::vector<bool>> modules(const std::vector<std::string>& lines) {
  const std::string full = "\u2588", upper = "\u2580", lower = "\u2584";
  std::vector<std::vector<bool>> m;
  for (const auto& line : lines) {
    std::vector<bool> top, bottom;
    for (std::size_t i = 0; i < line.size();) {
      if (line[i] == ' ') {
        top.push_back(false);
        bottom.push_back(false);
        ++i;
        continue;
      }
      const std::string glyph = line.substr(i, 3);
      CHECK_TEXT(glyph == full || glyph == upper || glyph == lower, "unexpected glyph");
      top.push_back(glyph != lower);
      bottom.push_back(glyph != upper);
      i += 3;
    }
    m.push_back(top);
    m.push_back(bottom);
  }
  return m;
}

// A finder pattern's 7x7 at (row, col): dark ring, light ring, dark 3x3 centre.
void check_finder(const std::vector<std::vector<bool>>& m, int row, int col) {
  for (int r = 0; r < 7; ++r) {
    for (int c = 0; c < 7; ++c) {
      const bool ring = r == 0 || r == 6 || c == 0 || c == 6;
      const bool centre = r >= 2 && r <= 4 && c >= 2 && c <= 4;
      CHECK_EQUAL(ring || centre, static_cast<bool>(m[row + r][col + c]));
    }
  }
}

void check_symbol(const std::string& text, int symbol_size) {
  auto lines = render_qr(text);
  CHECK_TRUE(lines.is_ok());
  const int span = symbol_size + 2 * kQrQuietZone;
  CHECK_EQUAL((span + 1) / 2, static_cast<int>(lines->size()));
  for (const auto& line : *lines) CHECK_EQUAL(static_cast<std::size_t>(span), display_width(line));

  const auto m = modules(*lines);
  for (int i = 0; i < span; ++i) {
    for (int q = 0; q < kQrQuietZone; ++q) {
      CHECK_FALSE(m[q][i]);             // top quiet zone
      CHECK_FALSE(m[span - 1 - q][i]);  // bottom
      CHECK_FALSE(m[i][q]);             // left
      CHECK_FALSE(m[i][span - 1 - q]);  // right
    }
  }
  check_finder(m, kQrQuietZone, kQrQuietZone);
  check_finder(m, kQrQuietZone, kQrQuietZone + symbol_size - 7);
  check_finder(m, kQrQuietZone + symbol_size - 7, kQrQuietZone);
}

}  // namespace

TEST_GROUP(Qr){};

// Byte-mode capacity at error correction M: version 1 (21 modules) holds 14 bytes, version 2 (25)
// holds 26, version 40 (177) holds 2331.
TEST(Qr, FourteenBytesFitVersionOne) { check_symbol("abcdefghijklmn", 21); }

TEST(Qr, FifteenBytesNeedVersionTwo) { check_symbol("abcdefghijklmno", 25); }

TEST(Qr, LargestInputFillsVersionForty) { check_symbol(std::string(2331, 'a'), 177); }

TEST(Qr, DarkModulesAreInkOnALightTerminal) {
  auto lines = render_qr("abcdefghijklmn");
  CHECK_TRUE(lines.is_ok());
  STRCMP_EQUAL(std::string(25, ' ').c_str(), (*lines)[0].c_str());
  // Line 1 holds symbol rows 0 and 1: the finder's top edge above its side walls.
  const std::string expected = "  \u2588\u2580\u2580\u2580\u2580\u2580\u2588";
  STRCMP_EQUAL(expected.c_str(), (*lines)[1].substr(0, expected.size()).c_str());
}

TEST(Qr, ProvisioningUriRendersWithEvenLines) {
  auto lines = render_qr("xrm://gw-01.local:1883/provision?device=pump-17&user=pump-17&password=Zq8v3LxP0aR7mN2c");
  CHECK_TRUE(lines.is_ok());
  const std::size_t width = display_width(lines->front());
  for (const auto& line : *lines) CHECK_EQUAL(width, display_width(line));
}

TEST(Qr, TooLongTextFailsCleanly) {
  auto lines = render_qr(std::string(2332, 'a'));
  CHECK_FALSE(lines.is_ok());
  CHECK(lines.status().code() == xrm::Status::Code::kInvalidArgument);
  STRCMP_CONTAINS("2332 bytes are too many", lines.status().message().c_str());
}

TEST(Qr, EmptyTextAndNulAreRefused) {
  CHECK_FALSE(render_qr("").is_ok());
  CHECK_FALSE(render_qr(std::string_view("a\0b", 3)).is_ok());
}
