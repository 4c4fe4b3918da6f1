#pragma once
// Just enough of the protobuf wire format (varint, fixed64, length-delimited) to write the few
// xrm.v1 messages a device sends and read the Command it receives, without the protobuf runtime
// (too big for many MCUs). Field numbers follow common/proto/xrm.proto; the unit tests check the
// bytes against the generated protobuf-lite code.
#include <cstdint>
#include <string>
#include <string_view>

namespace xrm::device::wire {

enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class Writer {
 public:
  void varint(std::uint32_t field, std::uint64_t v);
  void fixed64_double(std::uint32_t field, double v);
  void bytes(std::uint32_t field, std::string_view v);
  // A map<string,string> entry: a nested message {1: key, 2: value}.
  void map_entry(std::uint32_t field, std::string_view key, std::string_view value);
  std::string& out() { return out_; }

 private:
  void raw_varint(std::uint64_t v);
  void tag(std::uint32_t field, WireType type) { raw_varint((static_cast<std::uint64_t>(field) << 3) | type); }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  // Reads the next tag; false at a malformed one.
  bool next(std::uint32_t& field, WireType& type);
  bool read_varint(std::uint64_t& v);
  bool read_bytes(std::string_view& v);
  // Skips a value of `type` (varint, fixed32/64, length-delimited); false for groups or truncation.
  bool skip(WireType type);

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

}  // namespace xrm::device::wire
