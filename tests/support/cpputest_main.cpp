// Entry point shared by every CppUTest binary of the project. CppUTest's own new/delete leak
// detector is switched off: it misreports the lazily allocated statics of protobuf, Paho and the
// standard library; the dev preset runs every test under AddressSanitizer/LeakSanitizer instead.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

int main(int argc, char** argv) {
  MemoryLeakWarningPlugin::saveAndDisableNewDeleteOverloads();
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
