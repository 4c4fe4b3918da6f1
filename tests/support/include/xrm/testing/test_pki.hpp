#pragma once
// A throw-away PKI for TLS tests, made at test time with the openssl command line in a private
// directory: a CA, a server certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1) and a client
// certificate, both signed by that CA, and a second CA that signed neither (a wrong trust anchor).
// EC P-256 keys, valid for two days. Test thread only.
#include <string>
#include <vector>

#include "xrm/testing/temp_dir.hpp"

namespace xrm::testing {

class TestPki {
 public:
  // Makes every file. Throws std::runtime_error naming the openssl step and its output if one
  // fails.
  explicit TestPki(std::string openssl_path);
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string ca_cert() const { return dir_.file("ca.crt"); }
  std::string server_cert() const { return dir_.file("server.crt"); }
  std::string server_key() const { return dir_.file("server.key"); }
  std::string client_cert() const { return dir_.file("client.crt"); }
  std::string client_key() const { return dir_.file("client.key"); }
  // A CA unrelated to the certificates above.
  std::string other_ca_cert() const { return dir_.file("other-ca.crt"); }
  const std::string& dir() const { return dir_.path(); }

 private:
  void openssl(const std::string& step, std::vector<std::string> args);
  void make_ca(const std::string& name, const std::string& common_name);
  void make_leaf(const std::string& name, const std::string& common_name, const std::string& extensions);

  std::string openssl_path_;
  TempDir dir_;
};

}  // namespace xrm::testing
