#include <CppUTest/TestHarness.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"

namespace fs = std::filesystem;

TEST_GROUP(Database) {
  std::string root;
  void setup() override {
    char tmpl[] = "/tmp/xrm-store-XXXXXX";
    CHECK(mkdtemp(tmpl) != nullptr);
    root = tmpl;
  }
  void teardown() override { fs::remove_all(root); }

  // gateway.db with `rows` rows of 500 bytes in a table of its own, closed again (the WAL
  // checkpointed into the file and removed). Its path.
  std::string filled_database(int rows) {
    {
      auto db = xrm::store::Database::open(root);
      CHECK(db.is_ok());
      CHECK((*db)->exec("CREATE TABLE filler(id INTEGER PRIMARY KEY, body TEXT);").is_ok());
      CHECK((*db)->transaction([&] {
        for (int i = 0; i < rows; ++i) {
          if (auto st = (*db)->exec("INSERT INTO filler(body) VALUES(printf('%.500c', 'x'));"); !st) return st;
        }
        return xrm::Status::ok();
      }).is_ok());
    }
    return root + "/gateway.db";
  }
};

TEST(Database, CreatesPrivateDirectoryAndFile) {
  const std::string dir = root + "/nested/data";
  auto db = xrm::store::Database::open(dir);
  CHECK_TEXT(db.is_ok(), db.status().to_string().c_str());
  struct stat st {};
  CHECK_EQUAL(0, stat(dir.c_str(), &st));
  CHECK_EQUAL(0700, st.st_mode & 0777);
  CHECK_EQUAL(0, stat((dir + "/gateway.db").c_str(), &st));
  CHECK_EQUAL(0600, st.st_mode & 0777);
}

TEST(Database, MigratesToLatestSchemaInWalMode) {
  auto db = xrm::store::Database::open(root);
  CHECK(db.is_ok());
  CHECK_EQUAL(xrm::store::Database::latest_schema_version(), (*db)->schema_version());
  auto mode = (*db)->prepare("PRAGMA journal_mode;");
  CHECK(mode.is_ok());
  CHECK(*mode->step());
  STRCMP_EQUAL("wal", mode->column_text(0).c_str());
}

TEST(Database, EpochGrowsAndSurvivesReopen) {
  {
    auto db = xrm::store::Database::open(root);
    xrm::store::GatewayState state(**db);
    CHECK_EQUAL(0U, *state.epoch());
    CHECK_EQUAL(1U, *state.bump_epoch());
    CHECK_EQUAL(2U, *state.bump_epoch());
  }
  auto db = xrm::store::Database::open(root);
  xrm::store::GatewayState state(**db);
  CHECK_EQUAL(2U, *state.epoch());
  CHECK_EQUAL(3U, *state.bump_epoch());
}

TEST(Database, NewerSchemaIsRefusedUntouched) {
  {
    auto db = xrm::store::Database::open(root);
    CHECK((*db)->exec("PRAGMA user_version=999;").is_ok());
  }
  auto db = xrm::store::Database::open(root);
  CHECK_FALSE(db.is_ok());
  STRCMP_CONTAINS("schema version 999, newer than this build's", db.status().message().c_str());
}

TEST(Database, GarbageFileIsReportedAsCorruption) {
  std::ofstream(root + "/gateway.db") << std::string(8192, 'x');
  auto db = xrm::store::Database::open(root);
  CHECK_FALSE(db.is_ok());
  CHECK(db.status().code() == xrm::Status::Code::kCorruption);
  STRCMP_CONTAINS("gateway.db", db.status().message().c_str());
}

TEST(Database, TruncatedFileIsReportedAsCorruptionAndLeftAsItIs) {
  const std::string file = filled_database(2000);
  const auto full = fs::file_size(file);
  CHECK(full > 1000000);
  fs::resize_file(file, full / 2);
  auto db = xrm::store::Database::open(root);
  CHECK_FALSE(db.is_ok());
  CHECK_TEXT(db.status().code() == xrm::Status::Code::kCorruption, db.status().to_string().c_str());
  STRCMP_CONTAINS(file.c_str(), db.status().message().c_str());
  STRCMP_CONTAINS("damaged", db.status().message().c_str());
  CHECK_EQUAL(full / 2, fs::file_size(file));  // nothing was written to it
}

TEST(Database, APageOverwrittenInTheMiddleIsReportedAsCorruption) {
  const std::string file = filled_database(500);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2 / 4096 * 4096));
    const std::string junk(4096, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto db = xrm::store::Database::open(root);
  CHECK_FALSE(db.is_ok());
  CHECK_TEXT(db.status().code() == xrm::Status::Code::kCorruption, db.status().to_string().c_str());
}

TEST(Database, DataDirThatIsAFileIsAnError) {
  std::ofstream(root + "/file") << "x";
  auto db = xrm::store::Database::open(root + "/file");
  CHECK_FALSE(db.is_ok());
  STRCMP_CONTAINS("is not a directory", db.status().message().c_str());
}
