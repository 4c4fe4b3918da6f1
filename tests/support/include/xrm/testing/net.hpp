#pragma once
// Loopback ports for the brokers a test starts. Tests never touch anything but 127.0.0.1.

namespace xrm::testing {

// A TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the port the kernel
// chose, closes. Another process may take it before the caller binds it (unlikely; the kernel
// hands out ephemeral ports in turn). Throws std::runtime_error if no socket can be bound.
int free_loopback_port();

// True if something accepts a TCP connection on 127.0.0.1:port right now.
bool loopback_accepts(int port);

}  // namespace xrm::testing
