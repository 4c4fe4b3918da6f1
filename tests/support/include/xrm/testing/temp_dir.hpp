#pragma once
// A private directory for one test's files (configs, logs, databases), and small file helpers.
#include <string>
#include <string_view>

namespace xrm::testing {

// Created with mkdtemp under $TMPDIR (or /tmp); removed with everything in it by the destructor,
// unless the environment variable XRM_KEEP_TEST_DIRS is set (then its path is printed to stderr,
// for looking at logs after a run). Throws std::runtime_error if it cannot be created.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "xrm-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string file(std::string_view name) const;

 private:
  std::string path_;
};

// Writes (truncating) a file with the given permission bits. Throws std::runtime_error.
void write_file(const std::string& path, std::string_view content, unsigned mode = 0644);
// The whole file; empty if it does not exist.
std::string read_file(const std::string& path);
// The last max_lines lines of a file, for failure messages.
std::string tail_file(const std::string& path, std::size_t max_lines = 40);

}  // namespace xrm::testing
