#include "xrm/testing/test_pki.hpp"

#include <stdexcept>

#include "xrm/testing/process.hpp"

namespace xrm::testing {

TestPki::TestPki(std::string openssl_path) : openssl_path_(std::move(openssl_path)), dir_("xrm-pki") {
  make_ca("ca", "xrm-test-ca");
  make_ca("other-ca", "xrm-other-ca");
  make_leaf("server", "127.0.0.1", "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n");
  make_leaf("client", "xrm-gateway", "extendedKeyUsage = clientAuth\n");
}

void TestPki::openssl(const std::string& step, std::vector<std::string> args) {
  const std::string log = dir_.file("openssl.log");
  args.insert(args.begin(), openssl_path_);
  Process p({.argv = args, .stdout_path = log});
  const auto rc = p.wait_exit(std::chrono::seconds(20));
  if (!rc || *rc != 0) {
    throw std::runtime_error("openssl (" + step + ") failed (exit " + (rc ? std::to_string(*rc) : "timeout") +
                             "): " + tail_file(log, 20));
  }
}

void TestPki::make_ca(const std::string& name, const std::string& common_name) {
  openssl("CA " + name,
          {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           dir_.file(name + ".key"), "-out", dir_.file(name + ".crt"), "-days", "2", "-subj", "/CN=" + common_name,
           "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
}

void TestPki::make_leaf(const std::string& name, const std::string& common_name, const std::string& extensions) {
  write_file(dir_.file(name + ".ext"), extensions);
  openssl(name + " key and request",
          {"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           dir_.file(name + ".key"), "-out", dir_.file(name + ".csr"), "-subj", "/CN=" + common_name});
  openssl(name + " certificate",
          {"x509", "-req", "-in", dir_.file(name + ".csr"), "-CA", ca_cert(), "-CAkey", dir_.file("ca.key"),
           "-CAcreateserial", "-out", dir_.file(name + ".crt"), "-days", "2", "-extfile", dir_.file(name + ".ext")});
}

}  // namespace xrm::testing
