#pragma once
// What the benchmark programs share: the pre-filled registry and its device ids, figures about a
// running process read from /proc, and percentile statistics. Setup helpers throw
// std::runtime_error; a benchmark turns that into a non-zero exit, never a missed target.
#include <chrono>
#include <memory>
#include <mqtt/async_client.h>
#include <string>
#include <vector>

namespace xrm::bench {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0);
// ms since the Unix epoch (a payload's "ts").
long long unix_ms();
double seconds_between(Clock::time_point from, Clock::time_point to);

struct Stats {
  double p50, p95, max, mean;
};
// Nearest-rank percentiles of a non-empty sample.
Stats stats(std::vector<double> v);
// The middle value (the mean of the two middle ones for an even count); 0 for an empty sample.
double median(std::vector<double> v);
// One line: "  WHAT  p50 ... ms  p95 ... ms  max ... ms".
void print(const char* what, const Stats& s);

// "bench-00042": the ids fill_registry registers, in the same order.
std::string device_id(int i);
// Registers devices 0..n-1 (class "chiller", spread over owners, technicians and suppliers) in the
// gateway's SQLite database under data_dir, through the registry library itself, one transaction
// per device as provisioning does. gateway_id must be the one the daemon will run with. Call it
// before the daemon starts: the daemon loads the registry once.
void fill_registry(const std::string& data_dir, const std::string& gateway_id, int n);
// The same for devices first..first+n-1 (device_id(first) on) of class class_name.
void fill_registry(const std::string& data_dir, const std::string& gateway_id, int first, int n,
                   const std::string& class_name);

// Resident set size (VmRSS, kB); 0 if unreadable (the process is gone).
long rss_kb(int pid);
// VmRSS split into its anonymous part (heap, stacks: the process's own) and its file part
// (mapped programs and shared libraries, shared with other processes), kB; zeros if unreadable.
struct Rss {
  long total = 0;
  long anon = 0;
  long file = 0;
  long pss = 0;  // proportional: each shared page divided among the processes mapping it
};
Rss rss_detail(int pid);
// The process's resident memory by mapping (a file's path, or "[heap]", "[stack]", "[anon]"),
// summed over each name's mappings, largest first; empty if unreadable.
std::vector<std::pair<std::string, long>> rss_by_mapping(int pid);
// This program's own path (/proc/self/exe), to re-execute it as a child process.
std::string self_path();
// Open file descriptors of the process; -1 if unreadable.
int open_fds(int pid);
// CPU time the process has used so far, user plus system, all its threads including exited ones
// (utime + stime of /proc/PID/stat, in clock ticks of 1/CLK_TCK s, usually 10 ms); -1 if unreadable.
double cpu_seconds(int pid);
// The pid of a running process whose command line contains text (e.g. a broker's config path);
// -1 if there is none. Scans /proc: for setup, not for loops.
int find_process(const std::string& text);

// A plain Paho client (MQTT 3.1.1, consuming) connected to `broker_url` as its dynamic-security
// admin and subscribed to the command responses: what the benchmarks send dynsec commands with.
std::unique_ptr<mqtt::async_client> connect_dynsec_admin(const std::string& broker_url, const std::string& client_id,
                                                        const std::string& user, const std::string& password);

// Creates a dynamic-security client `user` with `password` whose role may publish on every device
// topic (xrm/v1/dev/#): the load generators' account (the admin may not publish there).
void create_publisher_account(const std::string& broker_url, const std::string& admin_user,
                              const std::string& admin_password, const std::string& user,
                              const std::string& password);

}  // namespace xrm::bench
