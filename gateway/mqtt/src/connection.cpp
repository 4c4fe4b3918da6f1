#include "xrm/mqtt/connection.hpp"

#include <boost/asio/post.hpp>
#include <exception>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "xrm/common/log.hpp"
#include "xrm/common/units.hpp"

namespace xrm::mqtt_link {
namespace {

// MQTT 3.1.1 CONNACK return code 1 and MQTT 5 reason 0x84: the broker does not speak the version
// we asked for.
constexpr int kV3UnacceptableProtocol = 1;
constexpr int kV5UnsupportedProtocol = 0x84;

int version_for(const std::string& protocol) { return protocol == "3.1.1" ? MQTTVERSION_3_1_1 : MQTTVERSION_5; }

// Why a connect or publish failed, in words: Paho puts MQTT 5 reason codes (>= 0x80) and MQTT
// 3.1.1 CONNACK codes (1..5) into the return code of a failed connect.
std::string token_error(const ::mqtt::token& tok) {
  const int rc = tok.get_return_code();
  const int reason = tok.get_reason_code();
  if (reason >= 0x80) return ::mqtt::exception::reason_code_str(reason) + " (reason " + std::to_string(reason) + ")";
  if (rc >= 0x80) return ::mqtt::exception::reason_code_str(rc) + " (reason " + std::to_string(rc) + ")";
  static constexpr const char* kConnack[] = {"", "unacceptable protocol version", "client id rejected",
                                             "server unavailable", "bad user name or password", "not authorized"};
  if (rc >= 1 && rc <= 5) return std::string(kConnack[rc]) + " (CONNACK " + std::to_string(rc) + ")";
  if (rc == -1) return "no connection (refused, unreachable or timed out)";
  return ::mqtt::exception::error_str(rc) + " (return code " + std::to_string(rc) + ")";
}

// Paho C++ 1.2 calls our action listener, then still touches the client (token.cpp: notify, then
// remove_token) on its own thread, so destroying an async_client right after its last callback
// races with that thread (seen as a crash at shutdown). A gateway has two connections for its whole
// life, so their clients are retired here at the end instead of destroyed: reachable, never freed,
// gone with the process.
// The action listeners a pending token may still call go with it.
void retire_client(std::unique_ptr<::mqtt::async_client> client,
                   std::vector<std::unique_ptr<::mqtt::iaction_listener>> listeners = {}) {
  struct Retired {
    std::vector<std::unique_ptr<::mqtt::async_client>> clients;
    std::vector<std::unique_ptr<::mqtt::iaction_listener>> listeners;
  };
  static auto* graveyard = new Retired();  // NOLINT(cppcoreguidelines-owning-memory): intentional, see above
  static std::mutex lock;
  std::lock_guard<std::mutex> guard(lock);
  graveyard->clients.push_back(std::move(client));
  for (auto& l : listeners) graveyard->listeners.push_back(std::move(l));
}

bool is_tls_url(const std::string& url) {
  return url.rfind("ssl://", 0) == 0 || url.rfind("mqtts://", 0) == 0 || url.rfind("wss://", 0) == 0;
}

std::string trimmed(std::string s) {
  const auto last = s.find_last_not_of(" \t\r\n");
  s.erase(last == std::string::npos ? 0 : last + 1);
  const auto first = s.find_first_not_of(" \t");
  return first == std::string::npos ? std::string() : s.substr(first);
}

// The reason in one line of OpenSSL's error queue as Paho's ssl error handler gets it (OpenSSL's
// ERR_print_errors_cb): "<thread>:error:<code>:<library>:<function>:<reason>:<file>:<line>:<data>".
// "certificate verify failed", or e.g. "No such file or directory (calling fopen(/x/ca.crt, r))".
std::string openssl_reason(const std::string& line) {
  const std::string s = trimmed(line);
  const auto at = s.find("error:");
  if (at == std::string::npos) return s;
  std::vector<std::string> fields;  // code, library, function, reason, file, line, data (the rest)
  std::size_t pos = at + 6;
  while (fields.size() < 6) {
    const auto colon = s.find(':', pos);
    if (colon == std::string::npos) break;
    fields.push_back(s.substr(pos, colon - pos));
    pos = colon + 1;
  }
  fields.push_back(s.substr(pos));
  if (fields.size() < 4 || fields[3].empty()) return s.substr(at);
  std::string reason = fields[3];
  if (fields.size() == 7 && !trimmed(fields[6]).empty()) reason += " (" + trimmed(fields[6]) + ")";
  return reason;
}

// Holds the temporary Paho points its TLS error callback at (see Connection::start_connect) until
// the connect completes. Returns once `tok` completed, successfully or not: the outcome reaches
// the io thread through the connect listener, as for any connect.
void hold_until_complete(::mqtt::token_ptr tok, std::promise<void>& started) {
  started.set_value();
  try {
    tok->wait();
  } catch (const std::exception&) {
  }
}

}  // namespace

// OpenSSL's reasons for a failed TLS connect attempt. Paho's ssl error handler adds them on Paho's
// thread, before it reports the attempt's failure; handle_connect_result takes them on the io
// thread. Shared with the handlers, which may outlive the Connection.
class Connection::TlsErrors {
 public:
  void add(std::uint64_t attempt_id, const std::string& line) {
    const std::string reason = openssl_reason(line);
    if (reason.empty()) return;
    std::lock_guard<std::mutex> guard(lock_);
    if (attempt_id != attempt_id_) {  // the first report of a newer attempt
      attempt_id_ = attempt_id;
      reasons_.clear();
    }
    constexpr std::size_t kMaxReasons = 4;  // OpenSSL stacks a few lines for one failure (file errors)
    for (const auto& r : reasons_) {
      if (r == reason) return;
    }
    if (reasons_.size() < kMaxReasons) reasons_.push_back(reason);
  }
  // The reasons recorded for `attempt_id` ("" if none), joined with "; ", and forgets them.
  std::string take(std::uint64_t attempt_id) {
    std::lock_guard<std::mutex> guard(lock_);
    std::string out;
    if (attempt_id == attempt_id_) {
      for (const auto& r : reasons_) out += (out.empty() ? "" : "; ") + r;
    }
    reasons_.clear();
    return out;
  }

 private:
  std::mutex lock_;
  std::uint64_t attempt_id_ = 0;
  std::vector<std::string> reasons_;
};

// Adapts Paho's action callbacks (on Paho's thread) to posts into the io_context. Holds only a
// weak reference, so a callback that arrives after the Connection is gone does nothing.
class Connection::Listener final : public ::mqtt::iaction_listener {
 public:
  using Fn = std::function<void(Connection&, const ::mqtt::token&, bool ok)>;
  Listener(std::weak_ptr<Connection> owner, Fn fn) : owner_(std::move(owner)), fn_(std::move(fn)) {}

 private:
  void on_success(const ::mqtt::token& tok) override { dispatch(tok, true); }
  void on_failure(const ::mqtt::token& tok) override { dispatch(tok, false); }
  void dispatch(const ::mqtt::token& tok, bool ok) {
    // The token is only valid during the callback; Fn copies what it needs before posting.
    if (auto self = owner_.lock()) fn_(*self, tok, ok);
  }

  std::weak_ptr<Connection> owner_;
  Fn fn_;
};

std::shared_ptr<Connection> Connection::create(boost::asio::io_context& io, ConnectionSettings settings,
                                               std::uint64_t jitter_seed) {
  std::shared_ptr<Connection> c(new Connection(io, std::move(settings), jitter_seed));
  std::weak_ptr<Connection> weak = c;
  c->connect_listener_ = std::make_unique<Listener>(weak, [](Connection& self, const ::mqtt::token& tok, bool ok) {
    const auto id = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
    bool session_present = false;
    if (ok) {
      try {
        session_present = tok.get_connect_response().is_session_present();
      } catch (const std::exception&) {
      }
    }
    const int rc = tok.get_return_code();
    const int reason = tok.get_reason_code();
    std::string why = ok ? std::string() : token_error(tok);
    boost::asio::post(self.io_, [weak = self.weak_from_this(), id, ok, rc, reason, session_present, why] {
      if (auto s = weak.lock()) s->handle_connect_result(id, ok, rc, reason, session_present, why);
    });
  });
  c->publish_listener_ = std::make_unique<Listener>(weak, [](Connection& self, const ::mqtt::token& tok, bool ok) {
    const auto id = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
    Status st = ok ? Status::ok() : Status::unavailable("publish failed: " + token_error(tok));
    // Paho reports a QoS 1 publish refused by the broker (MQTT 5 PUBACK reason >= 0x80) as success
    // with that reason code; it is a failure for us, and one about this message (invalid_argument),
    // not about the connection: the uplink sets such a record aside rather than retry it forever.
    if (const int reason = tok.get_reason_code(); reason >= 0x80) {
      st = Status::invalid_argument("publish refused by broker: " + ::mqtt::exception::reason_code_str(reason) +
                                    " (reason " + std::to_string(reason) + ")");
    }
    boost::asio::post(self.io_, [weak = self.weak_from_this(), id, st] {
      if (auto s = weak.lock()) s->handle_publish_result(id, st);
    });
  });
  c->subscribe_listener_ = std::make_unique<Listener>(weak, [](Connection& self, const ::mqtt::token& tok, bool ok) {
    // MQTT 5 gives one reason code per filter; 3.1.1 grants QoS 0x80 for a refused one.
    std::vector<int> codes;
    try {
      const auto response = tok.get_subscribe_response();  // a copy: the codes live in it
      for (auto rc : response.get_reason_codes()) codes.push_back(static_cast<int>(rc));
    } catch (const std::exception&) {
    }
    std::string why = ok ? std::string() : token_error(tok);
    const auto id = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
    boost::asio::post(self.io_, [weak = self.weak_from_this(), ok, codes, why, id] {
      auto s = weak.lock();
      if (!s) return;
      auto it = s->pending_subscribes_.find(id);
      if (it == s->pending_subscribes_.end()) return;  // from a lost connection
      const std::vector<std::string> subs = std::move(it->second);
      s->pending_subscribes_.erase(it);
      if (!ok) {
        XRM_ERROR << s->settings_.name << ": subscribe failed: " << why;
        return;
      }
      for (std::size_t i = 0; i < subs.size(); ++i) {
        if (i < codes.size() && codes[i] >= 0x80) {
          XRM_ERROR << s->settings_.name << ": subscription to " << subs[i] << " refused by the broker (reason "
                    << codes[i] << ": " << ::mqtt::exception::reason_code_str(codes[i]) << ")";
        } else {
          XRM_DEBUG << s->settings_.name << ": subscribed to " << subs[i];
        }
      }
    });
  });
  c->disconnect_listener_ =
      std::make_unique<Listener>(weak, [](Connection& self, const ::mqtt::token&, bool) {
        boost::asio::post(self.io_, [weak = self.weak_from_this()] {
          auto s = weak.lock();
          if (!s) return;
          s->connected_ = false;
          if (auto done = std::move(s->stop_done_)) done();
        });
      });
  return c;
}

Connection::Connection(boost::asio::io_context& io, ConnectionSettings settings, std::uint64_t jitter_seed)
    : io_(io),
      settings_(std::move(settings)),
      backoff_(settings_.broker.reconnect_min, settings_.broker.reconnect_max, jitter_seed),
      timer_(io),
      drain_timer_(io),
      tls_errors_(std::make_shared<TlsErrors>()),
      inbound_(std::make_shared<InboundQueue>(settings_.inbound_limit)) {
  try_version_ = version_for(settings_.broker.protocol);
}

Connection::~Connection() {
  inbound_->close();
  if (!client_) return;
  // Callbacks hold only weak references, so they do nothing from here on; handlers are left as
  // they are (Paho throws when they change while a connect is pending).
  try {
    if (client_->is_connected()) client_->disconnect(0);
  } catch (const std::exception&) {
  }
  std::vector<std::unique_ptr<::mqtt::iaction_listener>> listeners;
  listeners.push_back(std::move(connect_listener_));
  listeners.push_back(std::move(publish_listener_));
  listeners.push_back(std::move(disconnect_listener_));
  listeners.push_back(std::move(subscribe_listener_));
  retire_client(std::move(client_), std::move(listeners));
}

void Connection::make_client() {
  ::mqtt::create_options create(try_version_);
  if (client_) retire_client(std::move(client_));  // a protocol fallback: same reason as at the end
  client_ = std::make_unique<::mqtt::async_client>(settings_.broker.url, settings_.client_id, create, nullptr);
  client_version_ = try_version_;
  std::weak_ptr<Connection> weak = weak_from_this();
  client_->set_connection_lost_handler([this, weak](const std::string& cause) {
    if (auto s = weak.lock()) {
      boost::asio::post(io_, [weak, cause] {
        if (auto self = weak.lock()) self->handle_lost(cause.empty() ? "connection lost" : cause);
      });
    }
  });
  // MQTT 5: a broker that ends the connection itself sends DISCONNECT with a reason (Mosquitto:
  // "administrative action" when our client's roles change, "session taken over"); Paho reports
  // that through this handler only, never as a lost connection. Without it the client would
  // believe itself connected forever.
  client_->set_disconnected_handler([this, weak](const ::mqtt::properties&, ::mqtt::ReasonCode reason) {
    if (auto s = weak.lock()) {
      const int rc = static_cast<int>(reason);
      const std::string why = "the broker disconnected us: " + ::mqtt::exception::reason_code_str(rc) + " (reason " + std::to_string(rc) + ")";
      boost::asio::post(io_, [weak, why] {
        if (auto self = weak.lock()) self->handle_lost(why);
      });
    }
  });
  client_->set_message_callback([weak](::mqtt::const_message_ptr msg) {
    if (auto s = weak.lock()) s->receive(std::move(msg));
  });
}

void Connection::receive(::mqtt::const_message_ptr msg) {
  const std::uint64_t token = settings_.before_ack ? settings_.before_ack(*msg) : 0;
  if (inbound_->push(std::move(msg), token) == InboundQueue::Push::kWake) {
    // Waking the io thread costs a system call on each side (an epoll_ctl here, a context switch
    // there); doing it per message cost as much CPU as the rest of the pipeline together. So the
    // first message after a drain schedules the next drain kInboundCoalesce later, and the
    // messages arriving meanwhile ride along without waking anyone.
    boost::asio::post(io_, [weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self) return;
      self->drain_timer_.expires_after(kInboundCoalesce);
      self->drain_timer_.async_wait([weak](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto s = weak.lock()) s->drain_inbound();
      });
    });
  }
}

void Connection::drain_inbound() {
  // A bounded batch per handler, so timers and the control socket get their turn under load.
  constexpr std::size_t kBatch = 512;
  draining_.clear();
  const bool more = inbound_->take(draining_, kBatch);
  for (const auto& item : draining_) {
    if (on_message_) on_message_(item.message, item.token);
  }
  draining_.clear();
  if (more) {
    boost::asio::post(io_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->drain_inbound();
    });
  }
}

void Connection::start() {
  stopping_ = false;
  attempt();
}

::mqtt::connect_options Connection::build_options(const std::optional<::mqtt::message>& will,
                                                  std::uint64_t attempt_id) const {
  const auto& b = settings_.broker;
  ::mqtt::connect_options opts;
  opts.set_mqtt_version(try_version_);
  const bool persistent = settings_.session_expiry_s > 0;
  if (try_version_ == MQTTVERSION_5) {
    opts.set_clean_session(false);  // the 3.1.1 flag must be off under MQTT 5 (Paho rejects it)
    opts.set_clean_start(!persistent);
    if (persistent) {
      // Set on the finished options: Paho 1.2's builder drops properties in finalize().
      ::mqtt::properties props{{::mqtt::property::SESSION_EXPIRY_INTERVAL, static_cast<int>(settings_.session_expiry_s)}};
      opts.set_properties(props);
    }
  } else {
    opts.set_clean_session(!persistent);
  }
  opts.set_keep_alive_interval(std::chrono::duration_cast<std::chrono::seconds>(b.keepalive));
  opts.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(b.connect_timeout));
  opts.set_automatic_reconnect(false);  // we reconnect ourselves, with our backoff and a fresh will
  if (!b.username.empty()) {
    opts.set_user_name(b.username);
    if (!b.password.empty()) opts.set_password(b.password);
  }
  if (is_tls_url(b.url)) {
    ::mqtt::ssl_options ssl;
    if (!b.ca_file.empty()) ssl.set_trust_store(b.ca_file);
    if (!b.cert_file.empty()) ssl.set_key_store(b.cert_file);
    if (!b.key_file.empty()) ssl.set_private_key(b.key_file);
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);
    // OpenSSL's error lines (Paho's thread, during the attempt): the reason a handshake failed,
    // which Paho's failure itself does not give. Captures no Connection: it may outlive it.
    ssl.set_error_handler([errors = tls_errors_, attempt_id](const std::string& line) { errors->add(attempt_id, line); });
    opts.set_ssl(ssl);
  }
  if (will) opts.set_will_message(*will);
  return opts;
}

void Connection::attempt() {
  if (stopping_ || connecting_ || connected_) return;
  std::optional<::mqtt::message> will;
  if (will_provider_) will = will_provider_();
  try {
    if (!client_ || client_version_ != try_version_) make_client();
    const std::uint64_t id = attempt_id_ + 1;
    const auto opts = build_options(will, id);
    connecting_ = true;
    attempt_id_ = id;
    XRM_DEBUG << settings_.name << ": connecting to " << settings_.broker.url << " as " << settings_.client_id
              << " (MQTT " << (try_version_ == MQTTVERSION_5 ? "5" : "3.1.1") << ")";
    start_connect(opts, id, is_tls_url(settings_.broker.url));
  } catch (const ::mqtt::exception& e) {
    connecting_ = false;
    schedule_reconnect(e.what());
  } catch (const std::exception& e) {
    connecting_ = false;
    schedule_reconnect(e.what());
  }
}

// Paho C++ 1.2's async_client::connect() takes its connect_options by value and hands Paho C that
// parameter's C struct; the ssl_options in it (copied, so with its own `this`) is what Paho C keeps
// as the context of the ssl error callback, and uses during the handshake, long after connect()
// returned. Options kept anywhere else (a local, a member) do not help: the callback goes to the
// parameter. So a TLS connect is made on a thread of its own whose frame holds that parameter
// until the attempt completes (success, failure or connect timeout); Paho calls the ssl error
// handler only while it connects (Paho C SSLSocket.c), never after the attempt's outcome. The
// thread touches nothing of this Connection (the client and listeners are never freed: see
// retire_client), so it may outlive it. The io thread waits only for connect() itself to return
// (it does not block: Paho C queues the connect), and gets its exception as before.
void Connection::start_connect(const ::mqtt::connect_options& opts, std::uint64_t attempt_id, bool tls) {
  auto* context = reinterpret_cast<void*>(static_cast<std::uintptr_t>(attempt_id));
  // Copies, never moves: Paho C++ 1.2's connect_options move constructor loses the connect
  // properties (the session expiry: persistent sessions broke with it).
  if (!tls) {
    client_->connect(opts, context, *connect_listener_);
    return;
  }
  auto started = std::make_shared<std::promise<void>>();
  std::future<void> connect_returned = started->get_future();
  std::thread([client = client_.get(), listener = connect_listener_.get(), opts, context, started] {
    try {
      // One full-expression: connect()'s parameter (the options Paho points at) is destroyed at its
      // end (Itanium C++ ABI, GCC and Clang), after hold_until_complete returned.
      hold_until_complete(client->connect(opts, context, *listener), *started);
    } catch (...) {
      // From connect() (hold_until_complete throws nothing): nothing was started.
      try {
        started->set_exception(std::current_exception());
      } catch (const std::future_error&) {
      }
    }
  }).detach();
  connect_returned.get();
}

void Connection::schedule_reconnect(const std::string& why) {
  if (stopping_) return;
  const auto delay = backoff_.next();
  XRM_WARN << settings_.name << ": " << settings_.broker.url << ": " << why << "; retrying in " << format_duration(delay)
           << " (attempt " << backoff_.attempts() << ")";
  timer_.expires_after(delay);
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->attempt();
  });
}

void Connection::handle_connect_result(std::uint64_t attempt_id, bool ok, int rc, int reason, bool session_present,
                                       const std::string& why) {
  if (attempt_id != attempt_id_) return;  // a stale attempt
  connecting_ = false;
  // OpenSSL's reason, when the attempt failed in TLS: names the problem where Paho only says
  // "no connection".
  const std::string tls = tls_errors_->take(attempt_id);
  if (!ok) {
    const bool refused_version = rc == kV3UnacceptableProtocol || reason == kV5UnsupportedProtocol;
    if (refused_version && settings_.broker.protocol == "auto" && try_version_ == MQTTVERSION_5) {
      XRM_NOTICE << settings_.name << ": " << settings_.broker.url << " refuses MQTT 5; using 3.1.1";
      try_version_ = MQTTVERSION_3_1_1;
      attempt();
      return;
    }
    schedule_reconnect("connect failed: " + (tls.empty() ? why : "TLS: " + tls));
    return;
  }
  if (stopping_) return;
  connected_ = true;
  ++connects_;
  version_ = try_version_;
  backoff_.reset();
  XRM_INFO << settings_.name << ": connected to " << settings_.broker.url << " (MQTT "
           << (version_ == MQTTVERSION_5 ? "5" : "3.1.1") << (session_present ? ", session resumed" : "") << ")";
  subscribe_all();
  if (on_connected_) on_connected_(version_, session_present);
}

void Connection::subscribe_all() { subscribe(settings_.subscriptions); }

void Connection::subscribe(const std::vector<std::pair<std::string, int>>& subscriptions) {
  if (subscriptions.empty()) return;
  auto filters = std::make_shared<::mqtt::string_collection>();
  ::mqtt::iasync_client::qos_collection qos;
  for (const auto& [filter, q] : subscriptions) {
    filters->push_back(filter);
    qos.push_back(q);
  }
  // The listener names refused filters by their index in this batch (settings_.subscriptions may
  // grow meanwhile), so the batch's filters are kept under the request's id until it completes.
  const std::uint64_t id = next_subscribe_id_++;
  std::vector<std::string>& names = pending_subscribes_[id];
  for (const auto& s : subscriptions) names.push_back(s.first);
  try {
    client_->subscribe(filters, qos, reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)), *subscribe_listener_);
  } catch (const ::mqtt::exception& e) {
    pending_subscribes_.erase(id);
    XRM_ERROR << settings_.name << ": subscribe: " << e.what();
  }
}

void Connection::add_subscription(std::string filter, int qos) {
  for (auto& s : settings_.subscriptions) {
    if (s.first == filter) {
      s.second = qos;
      return;
    }
  }
  settings_.subscriptions.emplace_back(filter, qos);
  if (connected_ && client_) subscribe({{std::move(filter), qos}});
}

void Connection::handle_lost(const std::string& why) {
  if (!connected_) return;
  connected_ = false;
  // Paho will never complete what was in flight on the lost connection; fail it so callers can
  // retry from their own durable copy.
  auto pending = std::move(pending_);
  pending_.clear();
  pending_subscribes_.clear();
  for (auto& [id, done] : pending) {
    if (done) done(Status::unavailable(settings_.name + ": connection lost before acknowledgement"));
  }
  if (on_disconnected_) on_disconnected_(why);
  schedule_reconnect(why);
}

void Connection::handle_publish_result(std::uint64_t id, Status st) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  auto done = std::move(it->second);
  pending_.erase(it);
  if (done) done(std::move(st));
}

void Connection::publish(const std::string& topic, std::string payload, int qos, bool retained,
                         std::function<void(Status)> done) {
  publish(topic, std::move(payload), qos, retained, ::mqtt::properties(), std::move(done));
}

void Connection::publish(const std::string& topic, std::string payload, int qos, bool retained,
                         const ::mqtt::properties& props, std::function<void(Status)> done) {
  auto fail = [&](Status st) {
    if (done) boost::asio::post(io_, [done = std::move(done), st = std::move(st)] { done(st); });
  };
  if (!connected_ || !client_) {
    fail(Status::unavailable(settings_.name + ": not connected"));
    return;
  }
  const std::uint64_t id = next_publish_id_++;
  try {
    auto msg = ::mqtt::make_message(topic, std::move(payload), qos, retained);
    if (version_ == MQTTVERSION_5 && !props.empty()) msg->set_properties(props);
    if (done) pending_.emplace(id, std::move(done));
    client_->publish(msg, reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)), *publish_listener_);
  } catch (const ::mqtt::exception& e) {
    auto it = pending_.find(id);
    if (it != pending_.end()) {
      done = std::move(it->second);
      pending_.erase(it);
    }
    fail(Status::unavailable(settings_.name + ": publish to " + topic + " failed: " + e.what()));
  }
}

void Connection::set_reconnect_limits(std::chrono::milliseconds min, std::chrono::milliseconds max) {
  settings_.broker.reconnect_min = min;
  settings_.broker.reconnect_max = max;
  backoff_.set_limits(min, max);
}

void Connection::stop(std::chrono::milliseconds timeout, std::function<void()> done) {
  stopping_ = true;
  timer_.cancel();
  if (!client_ || !connected_) {
    connected_ = false;
    if (done) boost::asio::post(io_, std::move(done));
    return;
  }
  stop_done_ = std::move(done);
  try {
    client_->disconnect(static_cast<int>(timeout.count()), nullptr, *disconnect_listener_);
  } catch (const ::mqtt::exception& e) {
    XRM_WARN << settings_.name << ": disconnect: " << e.what();
    connected_ = false;
    if (auto d = std::move(stop_done_)) boost::asio::post(io_, std::move(d));
  }
}

}  // namespace xrm::mqtt_link
