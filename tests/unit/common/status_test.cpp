#include <CppUTest/TestHarness.h>

#include "xrm/common/status.hpp"

TEST_GROUP(Status){};

TEST(Status, DefaultIsOk) {
  xrm::Status st;
  CHECK(st.is_ok());
  STRCMP_EQUAL("ok", st.to_string().c_str());
}

TEST(Status, CarriesCodeAndMessage) {
  auto st = xrm::Status::io_error("disk full");
  CHECK_FALSE(st.is_ok());
  CHECK(st.code() == xrm::Status::Code::kIoError);
  STRCMP_EQUAL("I/O error: disk full", st.to_string().c_str());
}

TEST(Status, ResultHoldsValueOrError) {
  xrm::Result<int> good = 42;
  CHECK(good.is_ok());
  CHECK_EQUAL(42, *good);
  xrm::Result<int> bad = xrm::Status::not_found("device d1");
  CHECK_FALSE(bad.is_ok());
  STRCMP_EQUAL("device d1", bad.status().message().c_str());
}

TEST(Status, ResultFromOkStatusIsAnError) {
  xrm::Result<int> r = xrm::Status::ok();
  CHECK_FALSE(r.is_ok());
  CHECK(r.status().code() == xrm::Status::Code::kInternal);
}
