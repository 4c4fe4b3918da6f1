#include "xrm/devsim/credentials.hpp"

#include <nlohmann/json.hpp>
#include <sstream>

#include "xrm/common/files.hpp"

namespace xrm::devsim {

std::map<std::string, std::string> parse_credentials(std::string_view text, const std::string& source,
                                                     std::vector<std::string>& errors) {
  errors.clear();
  std::map<std::string, std::string> out;
  std::istringstream in{std::string(text)};
  for (int number = 1;; ++number) {
    in >> std::ws;
    if (in.peek() == std::char_traits<char>::eof()) break;
    const std::string where = source + ": object " + std::to_string(number);
    // `>>` reads exactly one JSON value and leaves the stream after it, so objects may follow
    // each other with or without newlines (`xrmctl --json provision ... >>FILE`).
    nlohmann::json value;
    try {
      in >> value;
    } catch (const nlohmann::json::parse_error& e) {
      errors.push_back(where + ": not JSON (" + e.what() + ")");
      break;  // where the next object would start is unknown
    }
    if (!value.is_object()) {
      errors.push_back(where + ": expected an object from `xrmctl --json provision`, got " + value.type_name());
      continue;
    }
    const auto device = value.find("device");
    const auto uri = value.find("uri");
    if (device == value.end() || !device->is_string() || device->get_ref<const std::string&>().empty()) {
      errors.push_back(where + ": no \"device\" (is this `xrmctl --json provision` output?)");
      continue;
    }
    if (uri == value.end() || !uri->is_string() || uri->get_ref<const std::string&>().empty()) {
      errors.push_back(where + ": device " + device->get<std::string>() +
                       " has no \"uri\" (a repeated provision result leaves the secret out; use --rotate)");
      continue;
    }
    out[device->get<std::string>()] = uri->get<std::string>();
  }
  return out;
}

std::map<std::string, std::string> load_credentials_file(const std::string& path, std::vector<std::string>& errors) {
  auto text = read_text_file(path);
  if (!text) {
    errors.assign({path + ": " + text.status().message()});
    return {};
  }
  return parse_credentials(*text, path, errors);
}

}  // namespace xrm::devsim
