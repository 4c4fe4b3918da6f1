#pragma once
// The gateway's store for unit tests: a real SQLite database in a fresh temporary directory with
// the gateway state, the outbox and the device registry over it, and a fake clock. reopen() closes
// everything and opens it again over the same directory (what a restart sees); the directory goes
// at destruction. Stages under test are built on top (a derived fixture resets them before the
// store in its own destructor and reopen). Test thread only.
#include <CppUTest/TestHarness.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "xrm/common/clock.hpp"
#include "xrm/outbox/outbox.hpp"
#include "xrm/proto/xrm.pb.h"
#include "xrm/registry/registry.hpp"
#include "xrm/store/database.hpp"
#include "xrm/store/gateway_state.hpp"

namespace xrm::testing {

struct StoreFixture {
  std::string root;
  FakeClock clock;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<store::GatewayState> state;
  std::unique_ptr<outbox::Outbox> outbox;
  std::unique_ptr<registry::Registry> registry;

  // `name` goes into the directory's name (/tmp/xrm-NAME-XXXXXX), to tell leftovers apart.
  explicit StoreFixture(const std::string& name = "unit") {
    std::string tmpl = "/tmp/xrm-" + name + "-XXXXXX";
    CHECK(mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    open_store();
  }
  virtual ~StoreFixture() {
    close_store();
    std::filesystem::remove_all(root);
  }
  StoreFixture(const StoreFixture&) = delete;
  StoreFixture& operator=(const StoreFixture&) = delete;

  void close_store() {
    registry.reset();
    outbox.reset();
    state.reset();
    db.reset();
  }
  void open_store() {
    auto opened = store::Database::open(root);
    CHECK_TEXT(opened.is_ok(), opened.status().to_string().c_str());
    db = std::move(*opened);
    state = std::make_unique<store::GatewayState>(*db);
    outbox = std::make_unique<outbox::Outbox>(*db, *state, "gw-t", clock);
    registry = std::make_unique<registry::Registry>(*db, *outbox, clock);
    CHECK(registry->load().is_ok());
  }

  // Every record in the outbox, in seq order; of one kind only when `kind` is given.
  std::vector<v1::InteractionRecord> records(v1::RecordKind kind = v1::RECORD_KIND_UNSPECIFIED) {
    std::vector<v1::InteractionRecord> out;
    auto stmt = db->prepare("SELECT record FROM outbox ORDER BY seq;");
    CHECK(stmt.is_ok());
    while (*stmt->step()) {
      v1::InteractionRecord r;
      CHECK(r.ParseFromString(stmt->column_blob(0)));
      if (kind == v1::RECORD_KIND_UNSPECIFIED || r.kind() == kind) out.push_back(r);
    }
    return out;
  }

  // Appends a bare record of this kind (a device id of `pad` bytes makes it bigger); its seq.
  std::uint64_t append(v1::RecordKind kind, std::size_t pad = 1) {
    v1::InteractionRecord r;
    r.set_kind(kind);
    r.set_device_id(std::string(pad, 'd'));
    auto seq = outbox->append(r);
    CHECK_TEXT(seq.is_ok(), seq.status().to_string().c_str());
    return *seq;
  }

  // Registers a device of class chiller with a full set of stakeholders.
  const registry::Device* add_device(const std::string& id, const std::string& model = "CH-200") {
    auto d = registry->add(id, "chiller", {"acme", "plant-a", "tom", "coolco", model}, "xrmctl:uid=0(root)");
    CHECK_TEXT(d.is_ok(), d.status().to_string().c_str());
    return *d;
  }
};

}  // namespace xrm::testing
