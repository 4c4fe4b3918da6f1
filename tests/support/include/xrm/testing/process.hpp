#pragma once
// A child process owned by a test: started in its own process group, its output in log files,
// and always killed and reaped by the destructor, whatever happened to the test.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xrm::testing {

struct ProcessOptions {
  // argv[0] is the program's path (no PATH search).
  std::vector<std::string> argv{};
  // Added to (or replacing in) the test's own environment.
  std::vector<std::pair<std::string, std::string>> env{};
  // File that receives stdout (appended, created 0644 if missing). Required.
  std::string stdout_path{};
  // File that receives stderr; empty: the same file as stdout. stdin is /dev/null.
  std::string stderr_path{};
  // Removed from the environment the child inherits.
  std::vector<std::string> unset_env{};
};

// Forks and execs at construction. The child runs in a new process group and gets SIGKILL if the
// test process dies first (PR_SET_PDEATHSIG, tied to the thread that constructed the Process:
// construct it on the test's main thread). Not thread-safe; one owner.
class Process {
 public:
  // Throws std::runtime_error if the log files cannot be opened or fork fails. If exec fails,
  // the child writes why to its stderr file and exits 127.
  explicit Process(ProcessOptions options);
  // SIGKILL to the whole process group (if not reaped yet), then reaps.
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const ProcessOptions& options() const { return options_; }

  // False once the child has exited (it is reaped here).
  bool is_running();
  // Sends sig to the child only (not its group). Does nothing once it is reaped.
  void kill(int sig);
  // Waits up to timeout for the child to exit. The exit code, or 128 + the signal number if a
  // signal ended it (as a shell reports it); nothing on timeout. Once known, returned at once.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // The exit code if the child has been reaped, as wait_exit gives it.
  std::optional<int> exit_code() const { return exit_code_; }

 private:
  bool reap(bool block);

  ProcessOptions options_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace xrm::testing
