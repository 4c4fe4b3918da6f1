#include "xrm/device/wire.hpp"

#include <cstring>

namespace xrm::device::wire {

void Writer::raw_varint(std::uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void Writer::varint(std::uint32_t field, std::uint64_t v) {
  tag(field, kVarint);
  raw_varint(v);
}

void Writer::fixed64_double(std::uint32_t field, double v) {
  tag(field, kFixed64);
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));  // little endian
}

void Writer::bytes(std::uint32_t field, std::string_view v) {
  tag(field, kLengthDelimited);
  raw_varint(v.size());
  out_.append(v.data(), v.size());
}

void Writer::map_entry(std::uint32_t field, std::string_view key, std::string_view value) {
  Writer entry;
  entry.bytes(1, key);
  entry.bytes(2, value);
  bytes(field, entry.out());
}

bool Reader::read_varint(std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) return false;
    const auto b = static_cast<unsigned char>(data_[pos_++]);
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

bool Reader::next(std::uint32_t& field, WireType& type) {
  std::uint64_t t = 0;
  if (!read_varint(t)) return false;
  field = static_cast<std::uint32_t>(t >> 3);
  type = static_cast<WireType>(t & 7);
  return field != 0 && t >> 3 <= 0x1FFFFFFF;
}

bool Reader::read_bytes(std::string_view& v) {
  std::uint64_t len = 0;
  if (!read_varint(len) || len > data_.size() - pos_) return false;
  v = data_.substr(pos_, static_cast<std::size_t>(len));
  pos_ += static_cast<std::size_t>(len);
  return true;
}

bool Reader::skip(WireType type) {
  switch (type) {
    case kVarint: {
      std::uint64_t v = 0;
      return read_varint(v);
    }
    case kFixed64:
      if (data_.size() - pos_ < 8) return false;
      pos_ += 8;
      return true;
    case kFixed32:
      if (data_.size() - pos_ < 4) return false;
      pos_ += 4;
      return true;
    case kLengthDelimited: {
      std::string_view v;
      return read_bytes(v);
    }
  }
  return false;
}

}  // namespace xrm::device::wire
