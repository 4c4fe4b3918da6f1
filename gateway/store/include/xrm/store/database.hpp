#pragma once
// The gateway's SQLite database (data_dir/gateway.db): one file for registry, outbox and state,
// WAL journal, files created 0600, schema versioned by PRAGMA user_version with migrations applied
// in order at open. One Database is used from one thread (the io thread) only.
#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "xrm/common/status.hpp"

namespace xrm::store {

// A prepared statement; finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_null(int index);
  // A REAL (its own name: an overload of bind would make bind(i, 5) ambiguous).
  Statement& bind_double(int index, double value);
  // Binds an optional integer: NULL when absent.
  Statement& bind_opt(int index, const std::optional<std::int64_t>& value);
  // SQLITE_ROW -> true, SQLITE_DONE -> false; any error -> Status.
  Result<bool> step();
  std::int64_t column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
  double column_double(int index) const { return sqlite3_column_double(stmt_, index); }
  std::string column_text(int index) const;
  std::string column_blob(int index) const;
  bool column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }
  std::optional<std::int64_t> column_opt(int index) const;
  // Runs a statement that returns no rows (or ignores them) to completion, then resets it.
  Status run();
  void reset() { sqlite3_reset(stmt_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  // Where crashes can cost data: with synchronous=FULL (the default here) a committed transaction
  // survives both a kill -9 and a power loss; with NORMAL it survives a kill -9 but the last
  // transactions before a power loss may roll back.
  enum class Sync { kNormal, kFull };
  // Whether open() reads every page first (PRAGMA quick_check). A second connection to a database
  // the process has already opened and checked skips it.
  enum class Verify { kQuickCheck, kNone };

  // Opens (creating data_dir 0700 and the file 0600 if missing) and migrates to the newest schema.
  // A newer schema than this build knows is refused rather than touched. A damaged file (not a
  // database, truncated, pages overwritten: PRAGMA quick_check) -> corruption naming the file and
  // what SQLite found, and nothing is written to it.
  static Result<std::unique_ptr<Database>> open(const std::string& data_dir, Sync sync = Sync::kFull,
                                                Verify verify = Verify::kQuickCheck);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  int schema_version() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  // The newest schema version this build creates.
  static int latest_schema_version();

  // Runs `work` in one IMMEDIATE transaction: committed when it returns ok, rolled back otherwise
  // (and its Status returned). Not reentrant.
  Status transaction(const std::function<Status()>& work);

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status migrate();
  Status quick_check();
  Status error(std::string_view what) const;

  sqlite3* db_;
  std::string path_;
};

}  // namespace xrm::store
