#pragma once
// Reading a whole text file (configuration, profiles, scenarios) with one clear error.
#include <string>

#include "xrm/common/status.hpp"

namespace xrm {

// The file's contents; io_error "cannot read: <strerror>" when it cannot be opened or is a
// directory (a directory opens fine and reads as empty, which would pass for an empty file).
Result<std::string> read_text_file(const std::string& path);

}  // namespace xrm
