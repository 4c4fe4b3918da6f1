#include <CppUTest/TestHarness.h>

#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "temp_dir.hpp"
#include "xrm/device/sequence_store.hpp"

using xrm::device::CounterStorage;
using xrm::device::FileCounterStorage;
using xrm::device::SequenceStore;
using xrm::device::Status;
using xrm::device::test::TempDir;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::uint32_t next_of(SequenceStore& s) {
  std::uint32_t v = 0;
  Status st = s.next(v);
  CHECK_TRUE_TEXT(st.is_ok(), st.message().c_str());
  return v;
}

// Storage that can be told to fail, to check that no number is handed out without a reservation.
class FlakyStorage : public CounterStorage {
 public:
  Status load(std::uint64_t& value, bool& found) override {
    found = saved_;
    if (saved_) value = value_;
    return Status::ok();
  }
  Status save(std::uint64_t value) override {
    if (fail) return Status::error("flash: write failed");
    value_ = value;
    saved_ = true;
    return Status::ok();
  }
  bool fail = false;

 private:
  bool saved_ = false;
  std::uint64_t value_ = 0;
};

}  // namespace

TEST_GROUP(SequenceStore) { TempDir dir; };

TEST(SequenceStore, StartsAtZeroAndWritesOncePerBlock) {
  FileCounterStorage file(dir.file("tele.seq"));
  SequenceStore s(file, 10);
  CHECK_TRUE(s.open().is_ok());
  for (std::uint32_t i = 0; i < 25; ++i) CHECK_EQUAL(i, next_of(s));
  CHECK_EQUAL(3u, s.writes());  // reservations 10, 20, 30
  STRCMP_EQUAL("xrm-seq v1 30\n", read_file(dir.file("tele.seq")).c_str());
  CHECK_FALSE(exists(dir.file("tele.seq.tmp")));
}

TEST(SequenceStore, ContinuesAfterAReserveWithoutRepeatingAnyNumber) {
  std::set<std::uint32_t> seen;
  std::uint32_t last = 0;
  for (int boot = 0; boot < 4; ++boot) {
    // A "reboot": a new store over the same file; the old one's memory is gone (like a crash).
    FileCounterStorage file(dir.file("tele.seq"));
    SequenceStore s(file, 8);
    CHECK_TRUE(s.open().is_ok());
    for (int i = 0; i < 5; ++i) {
      const std::uint32_t v = next_of(s);
      CHECK_TRUE_TEXT(seen.insert(v).second, ("repeated " + std::to_string(v)).c_str());
      if (boot > 0 || i > 0) CHECK_TRUE(v > last);
      last = v;
    }
  }
  // Each boot used 5 of its block of 8 and skipped 3: 0..4, 8..12, 16..20, 24..28.
  CHECK_EQUAL(28u, last);
}

TEST(SequenceStore, ABootThatSentNothingSkipsNothing) {
  {
    FileCounterStorage file(dir.file("s"));
    SequenceStore s(file, 8);
    CHECK_TRUE(s.open().is_ok());
    CHECK_EQUAL(0u, next_of(s));
  }
  {
    FileCounterStorage file(dir.file("s"));
    SequenceStore s(file, 8);
    CHECK_TRUE(s.open().is_ok());  // opened, nothing sent: no write
    CHECK_EQUAL(0u, s.writes());
  }
  FileCounterStorage file(dir.file("s"));
  SequenceStore s(file, 8);
  CHECK_TRUE(s.open().is_ok());
  CHECK_EQUAL(8u, next_of(s));
}

TEST(SequenceStore, IgnoresAStaleTempFileFromACrashMidWrite) {
  {
    FileCounterStorage file(dir.file("evt.seq"));
    SequenceStore s(file, 4);
    CHECK_TRUE(s.open().is_ok());
    next_of(s);  // persists 4
  }
  std::ofstream(dir.file("evt.seq.tmp")) << "xrm-seq v1 9";  // torn: no newline, never renamed
  FileCounterStorage file(dir.file("evt.seq"));
  SequenceStore s(file, 4);
  CHECK_TRUE(s.open().is_ok());
  CHECK_EQUAL(4u, next_of(s));
  STRCMP_EQUAL("xrm-seq v1 8\n", read_file(dir.file("evt.seq")).c_str());
  CHECK_FALSE(exists(dir.file("evt.seq.tmp")));
}

TEST(SequenceStore, RefusesACorruptFileByName) {
  std::ofstream(dir.file("tele.seq")) << "garbage";
  FileCounterStorage file(dir.file("tele.seq"));
  SequenceStore s(file);
  Status st = s.open();
  CHECK_FALSE(st.is_ok());
  CHECK_TRUE(st.message().find(dir.file("tele.seq")) != std::string::npos);
  std::ofstream(dir.file("tele.seq"), std::ios::trunc) << "xrm-seq v1 12x\n";
  CHECK_FALSE(s.open().is_ok());
}

TEST(SequenceStore, AFailedReservationHandsOutNoNumber) {
  FlakyStorage storage;
  SequenceStore s(storage, 2);
  CHECK_TRUE(s.open().is_ok());
  CHECK_EQUAL(0u, next_of(s));
  CHECK_EQUAL(1u, next_of(s));
  storage.fail = true;
  std::uint32_t v = 99;
  Status st = s.next(v);
  CHECK_FALSE(st.is_ok());
  STRCMP_EQUAL("flash: write failed", st.message().c_str());
  CHECK_EQUAL(99u, v);
  storage.fail = false;
  CHECK_EQUAL(2u, next_of(s));
}

TEST(SequenceStore, WrapsAt32Bits) {
  std::ofstream(dir.file("w")) << "xrm-seq v1 4294967295\n";
  FileCounterStorage file(dir.file("w"));
  SequenceStore s(file, 4);
  CHECK_TRUE(s.open().is_ok());
  CHECK_EQUAL(4294967295u, next_of(s));
  CHECK_EQUAL(0u, next_of(s));
}

TEST(SequenceStore, ReportsAnUnwritableDirectory) {
  FileCounterStorage file(dir.file("missing/tele.seq"));
  SequenceStore s(file);
  CHECK_TRUE(s.open().is_ok());  // nothing there yet: starts at 0
  std::uint32_t v = 0;
  Status st = s.next(v);
  CHECK_FALSE(st.is_ok());
  CHECK_TRUE(st.message().find("missing/tele.seq.tmp") != std::string::npos);
}
