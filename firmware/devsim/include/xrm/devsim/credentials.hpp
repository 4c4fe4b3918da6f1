#pragma once
// Device credentials for xrm-devsim: what `xrmctl --json provision` prints, one JSON object per
// device (the file may hold any number of them, one after another, as `>>` appends them). Each
// object must have `device` and `uri` (the provisioning URI); other keys are ignored.
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace xrm::devsim {

// Device id -> provisioning URI. Every problem is reported into `errors` (cleared first) as
// "SOURCE: object N: why" (objects numbered from 1); the map holds the objects that were fine. A
// device given twice keeps its last URI (a `--rotate` appended later wins).
std::map<std::string, std::string> parse_credentials(std::string_view text, const std::string& source,
                                                     std::vector<std::string>& errors);
std::map<std::string, std::string> load_credentials_file(const std::string& path, std::vector<std::string>& errors);

}  // namespace xrm::devsim
