#include <CppUTest/TestHarness.h>

#include "xrm/common/units.hpp"

using namespace std::chrono_literals;

TEST_GROUP(Duration){};

TEST(Duration, ParsesEachUnit) {
  CHECK(*xrm::parse_duration("250ms") == 250ms);
  CHECK(*xrm::parse_duration("30s") == 30s);
  CHECK(*xrm::parse_duration("5m") == 5min);
  CHECK(*xrm::parse_duration("2h") == 2h);
  CHECK(*xrm::parse_duration("7d") == 168h);
}

TEST(Duration, ParsesCompoundSpelling) { CHECK(*xrm::parse_duration("1h30m15s") == 1h + 30min + 15s); }

TEST(Duration, RefusesBadSpellingsWithReason) {
  for (const char* bad : {"", "10", "s", "5 s", "-5s", "1.5s", "3w", "10sec"}) {
    auto r = xrm::parse_duration(bad);
    CHECK_FALSE_TEXT(r.is_ok(), bad);
  }
  auto r = xrm::parse_duration("3w");
  STRCMP_CONTAINS("unit \"w\"", r.status().message().c_str());
}

TEST(Duration, RefusesOverflow) {
  CHECK_FALSE(xrm::parse_duration("99999999999999999999d").is_ok());
  CHECK_FALSE(xrm::parse_duration("999999999999999d").is_ok());
}

TEST(Duration, FormatsFromLargestUnit) {
  STRCMP_EQUAL("1m30s", xrm::format_duration(90s).c_str());
  STRCMP_EQUAL("0s", xrm::format_duration(0ms).c_str());
  STRCMP_EQUAL("1d1ms", xrm::format_duration(24h + 1ms).c_str());
  CHECK(*xrm::parse_duration(xrm::format_duration(3723004ms)) == 3723004ms);
}

TEST_GROUP(Size){};

TEST(Size, ParsesBinaryAndDecimalUnits) {
  CHECK_EQUAL(4096U, *xrm::parse_size("4096"));
  CHECK_EQUAL(16U * 1024, *xrm::parse_size("16KiB"));
  CHECK_EQUAL(256ULL * 1024 * 1024, *xrm::parse_size("256MiB"));
  CHECK_EQUAL(1000ULL * 1000 * 1000, *xrm::parse_size("1GB"));
  CHECK_EQUAL(7U, *xrm::parse_size("7B"));
}

TEST(Size, RefusesBadUnitsAndOverflow) {
  CHECK_FALSE(xrm::parse_size("").is_ok());
  CHECK_FALSE(xrm::parse_size("12 MiB").is_ok());
  CHECK_FALSE(xrm::parse_size("12mib").is_ok());
  CHECK_FALSE(xrm::parse_size("99999999999999999999").is_ok());
  CHECK_FALSE(xrm::parse_size("99999999999GiB").is_ok());
}

TEST(Size, FormatsExactUnits) {
  STRCMP_EQUAL("256MiB", xrm::format_size(256ULL * 1024 * 1024).c_str());
  STRCMP_EQUAL("1000B", xrm::format_size(1000).c_str());
}

TEST_GROUP(Id){};

TEST(Id, AcceptsContractAlphabetUpTo64) {
  CHECK(xrm::is_valid_id("chiller-07.plant_a"));
  CHECK(xrm::is_valid_id(std::string(64, 'a')));
}

TEST(Id, RefusesEmptyLongAndForeignCharacters) {
  CHECK_FALSE(xrm::is_valid_id(""));
  CHECK_FALSE(xrm::is_valid_id(std::string(65, 'a')));
  for (const char* bad : {"a b", "a/b", "a+b", "a#b", "dev\xc3\xa9", "a\nb"}) CHECK_FALSE_TEXT(xrm::is_valid_id(bad), bad);
  STRCMP_CONTAINS("position 2", xrm::id_error("a/b").c_str());
}
