#pragma once
// CppUTest 4.0 catches only its own failure exception: a std::exception escaping a test body
// (from Paho or this support library) would abort the test binary without running teardown.
// guarded() turns it into an ordinary test failure that names the exception.
#include <CppUTest/TestHarness.h>

#include <exception>
#include <string>

namespace xrm::testing {

template <class Body>
void guarded(Body&& body) {
  std::string what;
  try {
    body();
    return;
  } catch (const std::exception& e) {
    what = std::string("unexpected exception: ") + e.what();
  }
  FAIL(what.c_str());
}

}  // namespace xrm::testing
