// Entry point shared by every CppUTest binary of the project. CppUTest's own new/delete leak
// detector is switched off: it misreports the lazily allocated statics of protobuf, Paho and the
// standard library; the dev preset runs every test under AddressSanitizer/LeakSanitizer instead.
// The runner is built without CommandLineTestRunner::RunAllTests because that one also installs
// the leak plugin and prints its final report, which walks the detector's list of allocations:
// one made by the leak-checking operator new during static initialisation and freed after the
// overloads were switched off stays in that list, and reading it crashed xrm_tap_tests at exit
// (aarch64 Release under qemu).
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>
#include <CppUTest/TestRegistry.h>

int main(int argc, char** argv) {
  MemoryLeakWarningPlugin::saveAndDisableNewDeleteOverloads();
  CommandLineTestRunner runner(argc, argv, TestRegistry::getCurrentRegistry());
  return runner.runAllTestsMain();
}
