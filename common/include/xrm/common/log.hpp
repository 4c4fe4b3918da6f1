#pragma once
// Logging to stderr, one line per message. Under systemd (JOURNAL_STREAM set) each line starts
// with the sd-daemon priority prefix "<N>" so journald records the level and adds its own time;
// elsewhere lines carry an ISO 8601 UTC time and the level name. Thread-safe: a line is written
// with one write(2).
#include <sstream>
#include <string>
#include <string_view>

namespace xrm::log {

enum class Level { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

// Parses "error", "warning", "notice", "info", "debug".
bool parse_level(std::string_view text, Level& out);
std::string_view level_name(Level level);

void set_level(Level level);
Level level();
bool enabled(Level level);
// Forces the journald format on or off (default: on when JOURNAL_STREAM is set).
void set_journal_format(bool on);

void write(Level level, std::string_view message);

// Builds the message only when its level is enabled.
class Line {
 public:
  explicit Line(Level level) : level_(level) {}
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  ~Line() { write(level_, stream_.str()); }
  template <typename T>
  Line& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  Level level_;
  std::ostringstream stream_;
};

}  // namespace xrm::log

#define XRM_LOG(lvl) \
  if (!::xrm::log::enabled(::xrm::log::Level::lvl)) {} else ::xrm::log::Line(::xrm::log::Level::lvl)
#define XRM_ERROR XRM_LOG(kError)
#define XRM_WARN XRM_LOG(kWarning)
#define XRM_NOTICE XRM_LOG(kNotice)
#define XRM_INFO XRM_LOG(kInfo)
#define XRM_DEBUG XRM_LOG(kDebug)
