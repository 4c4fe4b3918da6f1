#include "xrm/registry/provisioner.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "xrm/common/log.hpp"
#include "xrm/common/units.hpp"

namespace xrm::registry {

std::string generate_password() {
  std::array<unsigned char, 24> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {  // 24 bytes: 8 groups of 3 -> 32 characters
    const unsigned v = (bytes[i] << 16U) | (bytes[i + 1] << 8U) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> static_cast<unsigned>(shift)) & 63U];
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4U];
      out += kHex[c & 15U];
    }
  }
  return out;
}

std::string provisioning_uri(std::string_view gateway_id, std::string_view device, std::string_view broker_url,
                             std::string_view password) {
  return "xrm-provision:v1?gw=" + percent_encode(gateway_id) + "&device=" + percent_encode(device) +
         "&url=" + percent_encode(broker_url) + "&password=" + percent_encode(password);
}

Provisioner::Provisioner(Registry& registry, DynsecAdmin& dynsec, std::string gateway_id, std::string device_url)
    : registry_(registry), dynsec_(dynsec), gateway_id_(std::move(gateway_id)), device_url_(std::move(device_url)) {}

Credentials Provisioner::credentials_for(const std::string& device, std::string password) const {
  Credentials c;
  c.broker_url = device_url_;
  c.client_id = device;
  c.username = device;
  c.uri = provisioning_uri(gateway_id_, device, device_url_, password);
  c.password = std::move(password);
  c.publish_topics = DynsecAdmin::publish_topics(device);
  c.subscribe_topics = DynsecAdmin::subscribe_topics(device);
  return c;
}

Status Provisioner::begin(const std::string& device) {
  if (std::string why = device_id_error(device); !why.empty()) return Status::invalid_argument(why);
  if (busy_.count(device) != 0) {
    return Status::unavailable("device " + device + ": another provision, rotate or retire of it is in progress");
  }
  return Status::ok();
}

void Provisioner::provision(ProvisionRequest req, std::function<void(Result<ProvisionResult>)> done) {
  if (Status st = begin(req.device); !st) return done(st);
  const Device* existing = registry_.find(req.device);
  if (req.rotate) {
    if (existing == nullptr) {
      return done(Status::not_found("device " + req.device + " is not registered; provision it without --rotate"));
    }
    if (existing->lifecycle == Lifecycle::kRetired) {
      return done(Status::invalid_argument("device " + req.device + " is retired; its id is not reused"));
    }
  } else {
    if (existing != nullptr) {
      const std::string why = existing->lifecycle == Lifecycle::kRetired
                                  ? "was retired; its id is not reused"
                                  : "is already provisioned (" + std::string(to_string(existing->lifecycle)) +
                                        "); use --rotate to replace its secret";
      return done(Status::already_exists("device " + req.device + " " + why));
    }
    if (classes_.count(req.class_name) == 0) {
      std::string known;
      for (const auto& c : classes_) known += (known.empty() ? "" : ", ") + c;
      return done(Status::invalid_argument("device " + req.device + ": unknown class \"" + req.class_name +
                                           "\" (profiles define: " + (known.empty() ? "none" : known) + ")"));
    }
  }
  std::string password;
  try {
    password = generate_password();
  } catch (const std::exception& e) {
    return done(Status::internal(e.what()));
  }
  busy_.insert(req.device);
  std::vector<DynsecAdmin::Command> commands;
  if (req.rotate) {
    commands.push_back(DynsecAdmin::set_password(req.device, password));
  } else {
    commands.push_back(DynsecAdmin::create_role(req.device));
    commands.push_back(DynsecAdmin::create_client(req.device, password,
                                                  "XRM device " + req.device + " (" + req.class_name + ")"));
  }
  dynsec_.execute(std::move(commands), [this, req = std::move(req), password = std::move(password),
                                        done = std::move(done)](Status st) mutable {
    if (!st) {
      busy_.erase(req.device);
      const bool refused = st.code() == Status::Code::kInvalidArgument;
      if (!req.rotate) {
        // Undo what may have been made. After a refusal only our own role (a client the broker
        // refused to create may be someone else's); after silence both, as the batch may have
        // succeeded late. The registry does not know the device, so nothing of ours is lost.
        std::vector<DynsecAdmin::Command> undo;
        if (!refused) undo.push_back(DynsecAdmin::delete_client(req.device));
        undo.push_back(DynsecAdmin::delete_role(req.device));
        dynsec_.execute(std::move(undo), [](Status) {});
      }
      if (refused) {
        // The broker refused, e.g. a client of that name that the registry does not know.
        st = Status::already_exists("device " + req.device + ": the local broker refused the credentials (" +
                                    st.message() + "); if a client of that name was made by hand, remove it with "
                                    "mosquitto_ctrl dynsec deleteClient " + req.device);
      } else {
        st = Status::unavailable("device " + req.device + ": " + st.message());
      }
      return done(st);
    }
    ProvisionResult out;
    out.rotated = req.rotate;
    Status reg;
    if (req.rotate) {
      reg = registry_.note_rotation(req.device, req.actor);
      out.device = registry_.find(req.device);
    } else {
      auto added = registry_.add(req.device, req.class_name, req.links, req.actor);
      if (added) {
        out.device = *added;
      } else {
        reg = added.status();
        // The registry did not take it: take the credentials back so nothing can connect unregistered.
        dynsec_.execute({DynsecAdmin::delete_client(req.device), DynsecAdmin::delete_role(req.device)}, [](Status) {});
      }
    }
    busy_.erase(req.device);
    if (!reg) return done(Status(reg.code() == Status::Code::kAlreadyExists ? reg : Status::io_error("device " + req.device + ": registry: " + reg.message())));
    XRM_NOTICE << "provision: " << req.device << (req.rotate ? " credentials rotated" : " provisioned as " + req.class_name)
               << " by " << req.actor;
    out.credentials = credentials_for(req.device, std::move(password));
    done(std::move(out));
  });
}

void Provisioner::retire(const std::string& device, const std::string& actor,
                         std::function<void(Result<Lifecycle>)> done) {
  if (Status st = begin(device); !st) return done(st);
  const Device* d = registry_.find(device);
  if (d == nullptr) return done(Status::not_found("device " + device + " is not registered"));
  if (d->lifecycle == Lifecycle::kRetired) return done(Status::invalid_argument("device " + device + " is already retired"));
  busy_.insert(device);
  dynsec_.execute({DynsecAdmin::delete_client(device), DynsecAdmin::delete_role(device)},
                  [this, device, actor, done = std::move(done)](Status st) {
                    busy_.erase(device);
                    if (!st) return done(Status::unavailable("device " + device + ": cannot revoke its credentials: " + st.message()));
                    const Lifecycle previous = registry_.find(device)->lifecycle;
                    if (Status r = registry_.retire(device, actor); !r) {
                      return done(Status::io_error("device " + device + ": credentials revoked but the registry could not "
                                                   "record the retirement: " + r.message()));
                    }
                    XRM_NOTICE << "retire: " << device << " retired by " << actor;
                    done(previous);
                  });
}

}  // namespace xrm::registry
