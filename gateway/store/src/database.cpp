#include "xrm/store/database.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xrm::store {
namespace {

// Each entry moves the schema from version i to i+1. Never edit a released entry; append.
constexpr const char* kMigrations[] = {
    // 1: gateway-wide counters (epoch; later the record sequence).
    "CREATE TABLE gateway_state ("
    "  key   TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    // 2: the device registry (devices as stakeholders), its relationship history, and the outbox
    // of interaction records (seq is the gateway's record sequence number, never reused).
    "CREATE TABLE devices ("
    "  id            TEXT PRIMARY KEY,"
    "  class         TEXT NOT NULL,"
    "  lifecycle     TEXT NOT NULL,"
    "  owner         TEXT NOT NULL DEFAULT '',"
    "  site          TEXT NOT NULL DEFAULT '',"
    "  technician    TEXT NOT NULL DEFAULT '',"
    "  supplier      TEXT NOT NULL DEFAULT '',"
    "  model         TEXT NOT NULL DEFAULT '',"
    "  firmware      TEXT NOT NULL DEFAULT '',"
    "  created_ms    INTEGER NOT NULL,"
    "  updated_ms    INTEGER NOT NULL,"
    "  first_data_ms INTEGER,"
    "  last_seen_ms  INTEGER,"
    "  retired_ms    INTEGER,"
    "  messages      INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE TABLE device_history ("
    "  id     INTEGER PRIMARY KEY,"
    "  device TEXT NOT NULL REFERENCES devices(id),"
    "  at_ms  INTEGER NOT NULL,"
    "  what   TEXT NOT NULL,"
    "  old    TEXT NOT NULL,"
    "  new    TEXT NOT NULL,"
    "  actor  TEXT NOT NULL"
    ");"
    "CREATE INDEX device_history_by_device ON device_history(device, id);"
    "CREATE TABLE outbox ("
    "  seq        INTEGER PRIMARY KEY,"
    "  lane       INTEGER NOT NULL,"
    "  kind       INTEGER NOT NULL,"
    "  device     TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  bytes      INTEGER NOT NULL,"
    "  record     BLOB NOT NULL"
    ");"
    "CREATE INDEX outbox_by_lane ON outbox(lane, seq);",
    // 3: the ingest stage. inbound_journal: device events and command results written on the MQTT
    // client's thread before their PUBACK, deleted when handled (events: in the transaction that
    // writes their record). dead_letters: device messages the ingest stage could not use
    // (bounded; the oldest rows go first). Their ids only grow (AUTOINCREMENT), so max(id) is the
    // number ever stored and max(id) - count(*) the number deleted.
    "CREATE TABLE inbound_journal ("
    "  id      INTEGER PRIMARY KEY,"
    "  at_ms   INTEGER NOT NULL,"
    "  topic   TEXT NOT NULL,"
    "  payload BLOB NOT NULL"
    ");"
    // event_keys: (device, seq, ts) of the events recorded in the last 7 days, written with the
    // event's record, so a repeated event is recorded once across restarts too.
    "CREATE TABLE event_keys ("
    "  device TEXT NOT NULL,"
    "  seq    INTEGER NOT NULL,"
    "  ts     INTEGER NOT NULL,"
    "  at_ms  INTEGER NOT NULL,"
    "  PRIMARY KEY (device, seq, ts)"
    ") WITHOUT ROWID;"
    "CREATE TABLE dead_letters ("
    "  id     INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at_ms  INTEGER NOT NULL,"
    "  topic  TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  size   INTEGER NOT NULL,"
    "  head   BLOB NOT NULL"
    ");",
    // 4: the health stage. health_state: each device's windows, timers, KPI state and band
    // (internal protobuf xrm.health.v1.DeviceHealthData), saved on an interval, on band changes and
    // at shutdown. alerts: the open alerts, one per device and cause, written in the transaction
    // of the alert record that opens them and deleted in the one that clears them.
    "CREATE TABLE health_state ("
    "  device   TEXT PRIMARY KEY,"
    "  saved_ms INTEGER NOT NULL,"
    "  data     BLOB NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE alerts ("
    "  alert_id   TEXT PRIMARY KEY,"
    "  device     TEXT NOT NULL,"
    "  cause      TEXT NOT NULL,"
    "  action     INTEGER NOT NULL,"
    "  band       INTEGER NOT NULL,"
    "  opened_ms  INTEGER NOT NULL,"
    "  repeats    INTEGER NOT NULL DEFAULT 0,"
    "  reason     TEXT NOT NULL,"
    "  command    TEXT NOT NULL DEFAULT '',"
    "  request_id TEXT NOT NULL DEFAULT '',"
    "  assignee   TEXT NOT NULL DEFAULT ''"
    ") WITHOUT ROWID;"
    "CREATE UNIQUE INDEX alerts_by_cause ON alerts(device, cause);",
    // 5: the uplink. outbox_dead_letters: records the upstream broker refused on their own (an
    // MQTT 5 PUBACK reason code >= 0x80 for a batch of one), moved here from the outbox in one
    // transaction with the gap record that reports them, so the queue moves on and nothing is lost.
    "CREATE TABLE outbox_dead_letters ("
    "  seq        INTEGER PRIMARY KEY,"
    "  kind       INTEGER NOT NULL,"
    "  device     TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  dead_ms    INTEGER NOT NULL,"
    "  reason     TEXT NOT NULL,"
    "  bytes      INTEGER NOT NULL,"
    "  record     BLOB NOT NULL"
    ");",
    // 6: commands from central (app/central_commands.hpp). command_results: one row per request id
    // seen recently (bounded by count and age), written before the command runs (result NULL) and
    // completed with its CommandResult (protobuf, device secrets left out), so a repeated request id
    // is answered from here and never runs twice, across restarts too.
    "CREATE TABLE command_results ("
    "  id          INTEGER PRIMARY KEY,"
    "  request_id  TEXT NOT NULL UNIQUE,"
    "  name        TEXT NOT NULL,"
    "  received_ms INTEGER NOT NULL,"
    "  done_ms     INTEGER,"
    "  result      BLOB"
    ");",
    // 7: the service history scorecards are computed from (gateway/scorecard): every service event
    // recorded (fault, service_request, service_start, service_done, satisfaction and others),
    // written in the transaction of its event record, kept for `scorecard.retention`.
    "CREATE TABLE service_events ("
    "  id         INTEGER PRIMARY KEY,"
    "  device     TEXT NOT NULL,"
    "  at_ms      INTEGER NOT NULL,"
    "  type       TEXT NOT NULL,"
    "  code       TEXT NOT NULL DEFAULT '',"
    "  technician TEXT NOT NULL DEFAULT '',"
    "  request_id TEXT NOT NULL DEFAULT '',"
    "  score      REAL"
    ");"
    "CREATE INDEX service_events_by_time ON service_events(at_ms);",
};

Status make_dir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::io_error("data_dir " + dir + " is not a directory");
    return Status::ok();
  }
  // Create missing parents too, each 0700.
  for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos == dir.size() || dir[pos] == '/') {
      const std::string part = dir.substr(0, pos);
      if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
        return Status::io_error("cannot create data_dir " + part + ": " + std::strerror(errno));
      }
    }
  }
  return Status::ok();
}

}  // namespace

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Status::io_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::bind_double(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::bind_opt(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

std::optional<std::int64_t> Statement::column_opt(int index) const {
  if (column_is_null(index)) return std::nullopt;
  return column_int(index);
}

std::string Statement::column_blob(int index) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, index));
  const int n = sqlite3_column_bytes(stmt_, index);
  return p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(n));
}

Status Statement::run() {
  Result<bool> row = true;
  while (row && *row) row = step();
  reset();
  sqlite3_clear_bindings(stmt_);
  return row ? Status::ok() : row.status();
}

std::string Statement::column_text(int index) const {
  const auto* p = sqlite3_column_text(stmt_, index);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
}

int Database::latest_schema_version() { return static_cast<int>(std::size(kMigrations)); }

Result<std::unique_ptr<Database>> Database::open(const std::string& data_dir, Sync sync, Verify verify) {
  if (Status st = make_dir(data_dir); !st) return st;
  if (::access(data_dir.c_str(), W_OK) != 0) {
    return Status::io_error("data_dir " + data_dir + " is not writable: " + std::strerror(errno));
  }
  const std::string path = data_dir + "/gateway.db";
  // Create the file ourselves so it is 0600 whatever the umask; SQLite's -wal and -shm files take
  // the database file's permissions.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot open " + path + ": " + std::strerror(errno));
  ::close(fd);

  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Database> db(new Database(raw, path));
  if (rc != SQLITE_OK) return db->error("open");
  sqlite3_busy_timeout(raw, 5000);
  if (Status st = db->exec("PRAGMA journal_mode=WAL;"); !st) return st;
  if (Status st = db->exec(sync == Sync::kFull ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;"); !st) {
    return st;
  }
  if (Status st = db->exec("PRAGMA foreign_keys=ON;"); !st) return st;
  if (verify == Verify::kQuickCheck) {
    if (Status st = db->quick_check(); !st) return st;
  }
  if (Status st = db->migrate(); !st) return st;
  return db;
}

Database::~Database() { sqlite3_close_v2(db_); }

Status Database::error(std::string_view what) const {
  return Status::io_error(path_ + ": " + std::string(what) + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
}

Status Database::exec(std::string_view sql) {
  char* msg = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string why = msg ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    // "file is not a database" and friends are corruption, not a passing I/O problem.
    const int code = sqlite3_errcode(db_);
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
      return Status::corruption(path_ + ": the database is damaged (" + why + ")");
    }
    return Status::io_error(path_ + ": " + why);
  }
  return Status::ok();
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    return error("prepare");
  }
  return Statement(db_, stmt);
}

Status Database::transaction(const std::function<Status()>& work) {
  if (Status st = exec("BEGIN IMMEDIATE;"); !st) return st;
  Status st = work();
  if (st) st = exec("COMMIT;");
  if (!st) exec("ROLLBACK;");
  return st;
}

Status Database::quick_check() {
  // quick_check reads every page once (no index cross-check): a truncated or overwritten file is
  // found here, at start, rather than as a failed write in the middle of the pipeline.
  sqlite3_stmt* stmt = nullptr;
  std::string problems;
  int rc = sqlite3_prepare_v2(db_, "PRAGMA quick_check(5);", -1, &stmt, nullptr);
  while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    const std::string line = text == nullptr ? "" : text;
    if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
    rc = SQLITE_OK;
  }
  const int code = sqlite3_errcode(db_);
  const std::string message = sqlite3_errmsg(db_);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_OK) {
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
      return Status::corruption(path_ + ": the database is damaged (quick_check: " + message + ")");
    }
    return Status::io_error(path_ + ": quick_check: " + message);
  }
  if (!problems.empty()) return Status::corruption(path_ + ": the database is damaged (quick_check: " + problems + ")");
  return Status::ok();
}

int Database::schema_version() const {
  sqlite3_stmt* stmt = nullptr;
  int version = -1;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version;", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    version = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return version;
}

Status Database::migrate() {
  const int have = schema_version();
  if (have < 0) return error("read schema version");
  if (have > latest_schema_version()) {
    return Status::invalid_argument(path_ + " has schema version " + std::to_string(have) + ", newer than this build's " +
                                    std::to_string(latest_schema_version()) + "; refusing to touch it (downgrade?)");
  }
  for (int v = have; v < latest_schema_version(); ++v) {
    const std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[v] +
                            "PRAGMA user_version=" + std::to_string(v + 1) + ";COMMIT;";
    if (Status st = exec(sql); !st) {
      exec("ROLLBACK;");
      return Status(st.code() == Status::Code::kCorruption ? Status::corruption(st.message())
                                                           : Status::io_error("migration to schema " +
                                                                              std::to_string(v + 1) + ": " + st.message()));
    }
  }
  return Status::ok();
}

}  // namespace xrm::store
