#include "xrm/common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace xrm::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<int> g_journal{-1};  // -1: decide from the environment on first use

bool journal_format() {
  int j = g_journal.load(std::memory_order_relaxed);
  if (j < 0) {
    j = std::getenv("JOURNAL_STREAM") != nullptr ? 1 : 0;
    g_journal.store(j, std::memory_order_relaxed);
  }
  return j == 1;
}

}  // namespace

bool parse_level(std::string_view text, Level& out) {
  static constexpr std::pair<std::string_view, Level> kNames[] = {
      {"error", Level::kError}, {"warning", Level::kWarning}, {"notice", Level::kNotice},
      {"info", Level::kInfo},   {"debug", Level::kDebug}};
  for (const auto& [name, level] : kNames) {
    if (text == name) {
      out = level;
      return true;
    }
  }
  return false;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kError: return "error";
    case Level::kWarning: return "warning";
    case Level::kNotice: return "notice";
    case Level::kInfo: return "info";
    case Level::kDebug: return "debug";
  }
  return "?";
}

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }
bool enabled(Level level) { return static_cast<int>(level) <= static_cast<int>(g_level.load(std::memory_order_relaxed)); }
void set_journal_format(bool on) { g_journal.store(on ? 1 : 0, std::memory_order_relaxed); }

void write(Level level, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 40);
  if (journal_format()) {
    line += '<';
    line += static_cast<char>('0' + static_cast<int>(level));
    line += '>';
  } else {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    const std::time_t t = system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    line += stamp;
    line += level_name(level);
    line += ' ';
  }
  for (char c : message) line += (c == '\n') ? ' ' : c;  // one record per line, always
  line += '\n';
  // One write(2) so concurrent lines never interleave; a failed log write is not worth failing for.
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace xrm::log
