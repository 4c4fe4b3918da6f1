#include "xrm/common/files.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace xrm {

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const int why = !in ? errno : std::filesystem::is_directory(path, ec) ? EISDIR : 0;
  if (why != 0) return Status::io_error(std::string("cannot read: ") + std::strerror(why));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace xrm
