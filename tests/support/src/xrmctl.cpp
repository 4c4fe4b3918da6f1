#include "xrm/testing/xrmctl.hpp"

#include "xrm/testing/process.hpp"
#include "xrm/testing/temp_dir.hpp"

namespace xrm::testing {

std::string CtlResult::describe() const {
  return "exit " + std::to_string(exit_code) + ", stdout: " + out + ", stderr: " + err;
}

CtlResult run_xrmctl(const std::string& xrmctl_path, const std::string& socket, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout) {
  TempDir dir("xrm-xrmctl");
  ProcessOptions opts;
  opts.argv = {xrmctl_path, "--socket", socket};
  opts.argv.insert(opts.argv.end(), args.begin(), args.end());
  opts.stdout_path = dir.file("out");
  opts.stderr_path = dir.file("err");
  opts.unset_env = {"XRMCTL_SOCKET"};
  CtlResult r;
  {
    Process p(opts);
    r.exit_code = p.wait_exit(timeout).value_or(-1);
  }
  r.out = read_file(dir.file("out"));
  r.err = read_file(dir.file("err"));
  return r;
}

}  // namespace xrm::testing
