#include "bench_util.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "xrm/common/clock.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/registry/registry.hpp"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"

namespace xrm::bench {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

long long unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
  };
  return {at(0.5), at(0.95), v.back(), std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size())};
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void print(const char* what, const Stats& s) {
  std::printf("  %-44s p50 %8.1f ms  p95 %8.1f ms  max %8.1f ms\n", what, s.p50, s.p95, s.max);
}

std::string device_id(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bench-%05d", i);
  return buf;
}

void fill_registry(const std::string& data_dir, const std::string& gateway_id, int n) {
  fill_registry(data_dir, gateway_id, 0, n, "chiller");
}

void fill_registry(const std::string& data_dir, const std::string& gateway_id, int first, int n,
                   const std::string& class_name) {
  auto db = xrm::store::Database::open(data_dir, xrm::store::Database::Sync::kNormal);
  if (!db) throw std::runtime_error(db.status().to_string());
  xrm::SystemClock clock;
  xrm::store::GatewayState state(**db);
  xrm::outbox::Outbox outbox(**db, state, gateway_id, clock);
  xrm::registry::Registry registry(**db, outbox, clock);
  if (!registry.load()) throw std::runtime_error("registry: load failed");
  for (int i = first; i < first + n; ++i) {
    auto r = registry.add(device_id(i), class_name,
                          {"owner-" + std::to_string(i % 50), "plant-a", "tech-" + std::to_string(i % 20),
                           "supplier-" + std::to_string(i % 7), "CH-200"},
                          "bench");
    if (!r) throw std::runtime_error(r.status().to_string());
  }
}

long rss_kb(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

Rss rss_detail(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  Rss r;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) r.total = std::stol(line.substr(6));
    if (line.rfind("RssAnon:", 0) == 0) r.anon = std::stol(line.substr(8));
    if (line.rfind("RssFile:", 0) == 0) r.file = std::stol(line.substr(8));
  }
  std::ifstream rollup("/proc/" + std::to_string(pid) + "/smaps_rollup");
  while (std::getline(rollup, line)) {
    if (line.rfind("Pss:", 0) == 0) r.pss = std::stol(line.substr(4));
  }
  return r;
}

std::vector<std::pair<std::string, long>> rss_by_mapping(int pid) {
  std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
  std::map<std::string, long> by_name;
  std::string line, name;
  while (std::getline(smaps, line)) {
    // A mapping's header: "start-end perms offset dev inode [path]"; its fields follow as "Key: value kB".
    const auto colon = line.find(':');
    const bool field = colon != std::string::npos && colon < line.find(' ') && line.find('-') > colon;
    if (!field) {
      std::istringstream in(line);
      std::string range, perms, offset, dev, inode, path;
      in >> range >> perms >> offset >> dev >> inode;
      std::getline(in, path);
      path.erase(0, path.find_first_not_of(' '));
      name = path.empty() ? "[anon]" : path;
    } else if (line.rfind("Rss:", 0) == 0) {
      by_name[name] += std::stol(line.substr(4));
    }
  }
  std::vector<std::pair<std::string, long>> out(by_name.begin(), by_name.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string self_path() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

int open_fds(int pid) {
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n;
}

double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  // Fields from 3 (state) on; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  if (!fields) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

int find_process(const std::string& text) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return -1;
  int found = -1;
  while (const dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos) {
      found = static_cast<int>(pid);
      break;
    }
  }
  ::closedir(proc);
  return found;
}

std::unique_ptr<mqtt::async_client> connect_dynsec_admin(const std::string& broker_url, const std::string& client_id,
                                                        const std::string& user, const std::string& password) {
  auto c = std::make_unique<mqtt::async_client>(broker_url, client_id, mqtt::create_options(MQTTVERSION_3_1_1),
                                                nullptr);
  c->start_consuming();
  mqtt::connect_options opts;
  opts.set_user_name(user);
  opts.set_password(password);
  c->connect(opts)->wait();
  c->subscribe("$CONTROL/dynamic-security/v1/response", 1)->wait();
  return c;
}

void create_publisher_account(const std::string& broker_url, const std::string& admin_user,
                              const std::string& admin_password, const std::string& user,
                              const std::string& password) {
  using nlohmann::json;
  auto admin = connect_dynsec_admin(broker_url, "bench-dynsec", admin_user, admin_password);
  mqtt::async_client& c = *admin;
  const json commands = {{"commands",
                          {{{"command", "createRole"},
                            {"rolename", user},
                            {"acls", {{{"acltype", "publishClientSend"}, {"topic", "xrm/v1/dev/#"}, {"allow", true}}}}},
                           {{"command", "createClient"},
                            {"username", user},
                            {"password", password},
                            {"roles", {{{"rolename", user}}}}}}}};
  c.publish("$CONTROL/dynamic-security/v1", commands.dump(), 1, false)->wait();
  auto msg = c.try_consume_message_for(std::chrono::seconds(10));
  if (!msg) throw std::runtime_error("dynamic security: no response to createRole/createClient");
  const json response = json::parse(msg->to_string(), nullptr, false);
  if (response.is_discarded() || !response.contains("responses")) {
    throw std::runtime_error("dynamic security: unexpected response " + msg->to_string());
  }
  for (const auto& r : response["responses"]) {
    if (r.contains("error")) throw std::runtime_error("dynamic security: " + r.dump());
  }
  c.disconnect()->wait();
}

}  // namespace xrm::bench
