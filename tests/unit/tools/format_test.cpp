#include <CppUTest/TestHarness.h>

#include <nlohmann/json.hpp>
#include <string>

#include "xrmctl/format.hpp"

using nlohmann::json;
using namespace xrm::xrmctl;

TEST_GROUP(RelativeAge){};

TEST(RelativeAge, UsesTheLargestWholeUnit) {
  constexpr std::int64_t kNow = 1'800'000'000'000;
  const struct {
    std::int64_t age_ms;
    const char* text;
  } cases[] = {
      {0, "0s ago"},
      {999, "0s ago"},
      {12'000, "12s ago"},
      {59'999, "59s ago"},
      {60'000, "1m ago"},
      {3 * 60'000 + 59'000, "3m ago"},
      {3'599'999, "59m ago"},
      {3'600'000, "1h ago"},
      {2 * 3'600'000 + 1, "2h ago"},
      {86'399'999, "23h ago"},
      {86'400'000, "1d ago"},
      {4 * 86'400'000LL + 5 * 3'600'000, "4d ago"},
      {400 * 86'400'000LL, "400d ago"},
  };
  for (const auto& c : cases) STRCMP_EQUAL(c.text, relative_age(kNow, kNow - c.age_ms).c_str());
}

TEST(RelativeAge, FutureTimesReadAsNow) { STRCMP_EQUAL("0s ago", relative_age(1000, 90'000).c_str()); }

TEST_GROUP(Time){};

TEST(Time, FormatsIso8601UtcToTheSecond) {
  STRCMP_EQUAL("2027-01-15T08:00:00Z", format_time_utc(1'800'000'000'999).c_str());
  STRCMP_EQUAL("1970-01-01T00:00:00Z", format_time_utc(0).c_str());
  STRCMP_EQUAL("1969-12-31T23:59:59Z", format_time_utc(-1).c_str());
}

TEST(Time, TimeCellNeedsANumber) {
  STRCMP_EQUAL("2027-01-15T08:00:00Z", time_cell(json(1'800'000'000'000)).c_str());
  STRCMP_EQUAL("-", time_cell(json()).c_str());
  STRCMP_EQUAL("-", time_cell(json("yesterday")).c_str());
}

TEST_GROUP(Cell){};

TEST(Cell, SpellsEachJsonType) {
  STRCMP_EQUAL("acme", cell(json("acme")).c_str());
  STRCMP_EQUAL("-", cell(json("")).c_str());
  STRCMP_EQUAL("-", cell(json()).c_str());
  STRCMP_EQUAL("42", cell(json(42)).c_str());
  STRCMP_EQUAL("18446744073709551615", cell(json(18446744073709551615ULL)).c_str());
  STRCMP_EQUAL("72.5", cell(json(72.5)).c_str());
  STRCMP_EQUAL("72", cell(json(72.0)).c_str());
  STRCMP_EQUAL("0.3", cell(json(0.25001)).c_str());
  STRCMP_EQUAL("yes", cell(json(true)).c_str());
  STRCMP_EQUAL("no", cell(json(false)).c_str());
  STRCMP_EQUAL("[1,2]", cell(json::array({1, 2})).c_str());
  STRCMP_EQUAL("{\"a\":1}", cell(json{{"a", 1}}).c_str());
}

TEST(Cell, ReplacesControlCharactersSoDeviceTextCannotDriveTheTerminal) {
  STRCMP_EQUAL("fw?[2J1.0?", cell(json("fw\x1b[2J1.0\n")).c_str());
  STRCMP_EQUAL("a?b", cell(json("a\xc2\x9b"
                                "b"))
                          .c_str());  // C1 CSI in UTF-8
  STRCMP_EQUAL("caf\xc3\xa9", cell(json("caf\xc3\xa9")).c_str());
}

TEST(Cell, FieldIsNullForMissingKeysAndNonObjects) {
  const json obj = {{"a", 1}};
  CHECK(field(obj, "a") == 1);
  CHECK(field(obj, "b").is_null());
  CHECK(field(json("text"), "a").is_null());
  CHECK(field(json::array({1}), "a").is_null());
  CHECK(field(field(obj, "b"), "c").is_null());
}

TEST(Cell, IntegerAcceptsNumbersThatFit) {
  CHECK(*integer(json(-5)) == -5);
  CHECK(*integer(json(7U)) == 7);
  CHECK(*integer(json(1500.0)) == 1500);
  CHECK_FALSE(integer(json(18446744073709551615ULL)).has_value());
  CHECK_FALSE(integer(json(1e300)).has_value());
  CHECK_FALSE(integer(json("5")).has_value());
  CHECK_FALSE(integer(json()).has_value());
}

TEST_GROUP(Table){};

TEST(Table, AlignsColumnsToTheWidestCellWithoutTrailingSpaces) {
  const std::string text = render_table({{"DEVICE", "SCORE", "BAND"}, {"pump-17", "72", "watch"}, {"v", "-", ""}});
  STRCMP_EQUAL(
      "DEVICE   SCORE  BAND\n"
      "pump-17  72     watch\n"
      "v        -\n",
      text.c_str());
}

TEST(Table, CountsCodePointsNotBytesAndIndents) {
  const std::string text = render_table({{"caf\xc3\xa9", "x"}, {"abcde", "y"}}, "  ");
  STRCMP_EQUAL(
      "  caf\xc3\xa9   x\n"
      "  abcde  y\n",
      text.c_str());
  CHECK_EQUAL(4U, display_width("caf\xc3\xa9"));
  CHECK_EQUAL(1U, display_width("\u2588"));
}

TEST(Table, ShortRowsAndNoRows) {
  STRCMP_EQUAL("a     b\nlong\n", render_table({{"a", "b"}, {"long"}}).c_str());
  STRCMP_EQUAL("", render_table({}).c_str());
}
