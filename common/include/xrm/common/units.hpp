#pragma once
// Human units in configuration: durations ("500ms", "30s", "1h30m", "7d") and byte sizes
// ("16KiB", "256MiB", "1GB", "4096").
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "xrm/common/status.hpp"

namespace xrm {

// A sequence of NUMBER UNIT parts, units ms s m h d; at least one part; no sign; the total must
// fit in 64-bit milliseconds.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// The exact spelling from the largest unit down: 90000ms -> "1m30s"; 0 -> "0s".
std::string format_duration(std::chrono::milliseconds d);

// NUMBER with an optional unit: B, kB/MB/GB (powers of 1000), KiB/MiB/GiB (powers of 1024).
Result<std::uint64_t> parse_size(std::string_view text);
std::string format_size(std::uint64_t bytes);

// Device and gateway ids: 1 to 64 characters of A-Z a-z 0-9 . _ -
bool is_valid_id(std::string_view id);
// Why an id is refused, naming the first offending character; empty when valid.
std::string id_error(std::string_view id);
// The same as one message naming the id, `device id "a b": <why>`, for every program that refuses
// a device id; empty when valid.
std::string device_id_error(std::string_view id);

}  // namespace xrm
