// xrmctl: the arguments, output and exit codes live in cli.cpp; this file adds the control socket.
#include <exception>
#include <iostream>

#include "xrm/control/client.hpp"
#include "xrmctl/cli.hpp"

int main(int argc, char** argv) {
  const auto send = [](const xrm::xrmctl::Request& r) -> xrm::Result<nlohmann::json> {
    auto client = xrm::control::Client::connect(r.socket);
    if (!client) return client.status();
    return client->call(r.verb, r.args, r.timeout);
  };
  try {
    return xrm::xrmctl::run(argc, argv, send, xrm::SystemClock{}, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "xrmctl: internal error: " << e.what() << "\n";
    return xrm::kExitFailure;
  }
}
