#include <CppUTest/TestHarness.h>

#include <fstream>
#include <set>
#include <sstream>

#include "xrm/config/options.hpp"

TEST_GROUP(OptionTable){};

TEST(OptionTable, EveryKeyDeclaredOnceWithDescription) {
  std::set<std::string> names;
  for (const auto& spec : xrm::config::option_table()) {
    CHECK_TEXT(names.insert(spec.name()).second, spec.name().c_str());
    CHECK_TEXT(!spec.description.empty(), spec.name().c_str());
    CHECK_TEXT(!(spec.required && !spec.default_value.empty()), spec.name().c_str());
  }
  // The contract's stable core keys are all there.
  for (const char* key : {"gateway.id", "gateway.site", "gateway.data_dir", "local.url", "local.username",
                          "local.password_file", "local.device_url", "upstream.url", "upstream.username",
                          "upstream.password_file", "upstream.ca_file", "upstream.cert_file", "upstream.key_file",
                          "upstream.confirm", "control.socket", "condense.window", "outbox.max_bytes", "outbox.ttl",
                          "health.profiles"}) {
    CHECK_TEXT(names.count(key) == 1, key);
  }
}

TEST(OptionTable, DocsConfigurationIsGeneratedFromTable) {
  std::ifstream in(XRM_DOCS_CONFIGURATION);
  CHECK_TEXT(in.good(), "docs/configuration.md is missing");
  std::ostringstream doc;
  doc << in.rdbuf();
  // Regenerate with: xrm-gatewayd --print-config-reference > docs/configuration.md
  CHECK_TEXT(doc.str() == xrm::config::render_reference_markdown(),
             "docs/configuration.md is stale: run xrm-gatewayd --print-config-reference > docs/configuration.md");
}

TEST(OptionTable, HelpTextListsEveryKey) {
  const std::string text = xrm::config::render_reference_text();
  for (const auto& spec : xrm::config::option_table()) {
    CHECK_TEXT(text.find(std::string(spec.key)) != std::string::npos, spec.name().c_str());
  }
}
