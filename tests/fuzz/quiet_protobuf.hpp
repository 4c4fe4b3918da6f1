#pragma once
// For the fuzzers that make protobuf messages: libprotobuf logs every string field with invalid
// UTF-8 it refuses, which is expected here and would drown the fuzzer's own output. Include in
// exactly one file of a fuzzer (it defines libFuzzer's LLVMFuzzerInitialize).
#include <google/protobuf/stubs/logging.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}
