#include "xrm/registry/dynsec.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>

#include "xrm/common/topics.hpp"

namespace xrm::registry {

using nlohmann::json;

DynsecAdmin::DynsecAdmin(boost::asio::io_context& io, Send send, std::chrono::milliseconds timeout)
    : io_(io), send_(std::move(send)), timeout_(timeout), instance_("xrm-" + std::to_string(::getpid()) + "-") {}

DynsecAdmin::~DynsecAdmin() { *alive_ = false; }

std::string DynsecAdmin::role_name(std::string_view device) { return "xrm-device-" + std::string(device); }

std::vector<std::string> DynsecAdmin::publish_topics(std::string_view device) {
  std::vector<std::string> out;
  for (const char* leaf : {"tele", "evt", "birth", "state", "cmd-res"}) out.push_back(topics::dev_topic(device, leaf));
  return out;
}

std::vector<std::string> DynsecAdmin::subscribe_topics(std::string_view device) {
  return {topics::dev_topic(device, "cmd/#")};
}

DynsecAdmin::Command DynsecAdmin::create_role(std::string_view device) {
  json acls = json::array();
  for (const auto& t : publish_topics(device)) acls.push_back({{"acltype", "publishClientSend"}, {"topic", t}, {"allow", true}});
  for (const auto& t : subscribe_topics(device)) {
    acls.push_back({{"acltype", "subscribePattern"}, {"topic", t}, {"allow", true}});
  }
  return {{{"command", "createRole"},
           {"rolename", role_name(device)},
           {"textname", "XRM device " + std::string(device)},
           {"acls", acls}},
          {}};
}

DynsecAdmin::Command DynsecAdmin::create_gateway_role() {
  json acls = json::array({{{"acltype", "publishClientSend"}, {"topic", topics::dev_topic("+", "cmd/#")}, {"allow", true}}});
  return {{{"command", "createRole"},
           {"rolename", kGatewayRole},
           {"textname", "XRM gateway: device commands"},
           {"acls", acls}},
          {"Role already exists"}};
}

DynsecAdmin::Command DynsecAdmin::add_gateway_role(std::string_view username) {
  return {{{"command", "addClientRole"}, {"username", username}, {"rolename", kGatewayRole}},
          {"Client is already in this role"}};
}

DynsecAdmin::Command DynsecAdmin::create_client(std::string_view device, std::string_view password,
                                                std::string_view description) {
  return {{{"command", "createClient"},
           {"username", device},
           {"clientid", device},
           {"password", password},
           {"textname", description},
           {"roles", json::array({{{"rolename", role_name(device)}}})}},
          {}};
}

DynsecAdmin::Command DynsecAdmin::set_password(std::string_view device, std::string_view password) {
  return {{{"command", "setClientPassword"}, {"username", device}, {"password", password}}, {}};
}

DynsecAdmin::Command DynsecAdmin::delete_client(std::string_view device) {
  return {{{"command", "deleteClient"}, {"username", device}}, {"Client not found"}};
}

DynsecAdmin::Command DynsecAdmin::delete_role(std::string_view device) {
  return {{{"command", "deleteRole"}, {"rolename", role_name(device)}}, {"Role not found"}};
}

void DynsecAdmin::execute(std::vector<Command> commands, std::function<void(Status)> done) {
  execute(std::move(commands), [done = std::move(done)](Status st, const std::vector<json>&) {
    if (done) done(std::move(st));
  });
}

void DynsecAdmin::ensure_gateway_role(const std::string& username, std::function<void(Status, bool)> done) {
  execute({Command{{{"command", "getClient"}, {"username", username}}, {}}},
          [this, username, done = std::move(done)](Status st, const std::vector<json>& data) {
            if (!st) {
              done(std::move(st), false);
              return;
            }
            const json* roles = nullptr;
            if (!data.empty() && data[0].is_object()) {
              const auto client = data[0].find("client");
              if (client != data[0].end() && client->is_object()) {
                const auto r = client->find("roles");
                if (r != client->end() && r->is_array()) roles = &*r;
              }
            }
            if (roles != nullptr) {
              for (const auto& role : *roles) {
                if (role.is_object() && role.value("rolename", "") == kGatewayRole) {
                  done(Status::ok(), false);
                  return;
                }
              }
            }
            // Mosquitto disconnects a client whose roles change, usually before its answer goes
            // out: a lost connection (unavailable) means the grant was applied; the next
            // connection checks again.
            execute({create_gateway_role(), add_gateway_role(username)}, [done](Status st2) {
              if (st2.code() == Status::Code::kUnavailable) st2 = Status::ok();
              const bool granted = st2.is_ok();
              done(std::move(st2), granted);
            });
          });
}

void DynsecAdmin::connection_lost() {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, p] : pending_) ids.push_back(id);
  for (std::uint64_t id : ids) {
    finish(id, Status::unavailable("the connection to the local broker was lost before it answered"));
  }
}

void DynsecAdmin::execute(std::vector<Command> commands, std::function<void(Status, std::vector<json>)> done) {
  const std::uint64_t id = next_id_++;
  json batch = {{"commands", json::array()}};
  for (std::size_t i = 0; i < commands.size(); ++i) {
    json c = commands[i].body;
    c["correlationData"] = instance_ + std::to_string(id) + "-" + std::to_string(i);
    batch["commands"].push_back(std::move(c));
  }
  Pending p;
  p.answered.assign(commands.size(), false);
  p.remaining = commands.size();
  p.data.assign(commands.size(), nullptr);
  p.commands = std::move(commands);
  p.done = std::move(done);
  p.timer = std::make_unique<boost::asio::steady_timer>(io_, timeout_);
  p.timer->async_wait([this, id, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    finish(id, Status::unavailable("the local broker did not answer the dynamic-security command within " +
                                   std::to_string(timeout_.count()) + " ms"));
  });
  pending_.emplace(id, std::move(p));
  send_(std::string(kCommandTopic), batch.dump(), [this, id, alive = alive_](Status st) {
    if (!*alive || st) return;
    finish(id, Status::unavailable("cannot reach the local broker's dynamic-security plugin: " + st.message()));
  });
}

void DynsecAdmin::finish(std::uint64_t id, Status st) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  auto done = std::move(it->second.done);
  auto data = std::move(it->second.data);
  it->second.timer->cancel();
  pending_.erase(it);
  if (done) done(std::move(st), std::move(data));
}

void DynsecAdmin::handle_response(std::string_view payload) {
  json doc = json::parse(payload, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("responses") || !doc["responses"].is_array()) return;
  for (const auto& r : doc["responses"]) {
    if (!r.is_object() || !r.contains("correlationData") || !r["correlationData"].is_string()) continue;
    const std::string corr = r["correlationData"].get<std::string>();
    if (corr.rfind(instance_, 0) != 0) continue;
    const std::string rest = corr.substr(instance_.size());
    const auto dash = rest.find('-');
    if (dash == std::string::npos) continue;
    std::uint64_t id = 0;
    std::size_t index = 0;
    try {
      id = std::stoull(rest.substr(0, dash));
      index = std::stoul(rest.substr(dash + 1));
    } catch (const std::exception&) {
      continue;
    }
    auto it = pending_.find(id);
    if (it == pending_.end() || index >= it->second.answered.size() || it->second.answered[index]) continue;
    Pending& p = it->second;
    p.answered[index] = true;
    --p.remaining;
    if (r.contains("data")) p.data[index] = r["data"];
    if (r.contains("error") && r["error"].is_string()) {
      const std::string error = r["error"].get<std::string>();
      if (p.first_error.is_ok() && p.commands[index].tolerated_errors.count(error) == 0) {
        const std::string command = p.commands[index].body.value("command", "command");
        p.first_error = Status::invalid_argument(command + ": " + error);
      }
    }
    if (p.remaining == 0) finish(id, p.first_error);
  }
}

}  // namespace xrm::registry
