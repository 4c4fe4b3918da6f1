#pragma once
// The device's telemetry and event sequence numbers, kept across reboots.
//
// Writing the counter after every message would wear flash and cost an fsync per reading, so the
// store reserves blocks: it persists `next + block` (the reservation) and hands numbers out from
// memory until the reservation is used up. After a crash or power loss it continues from the
// persisted reservation. Numbers therefore never repeat (until the 32-bit wrap) but may skip: at
// most `block` numbers are lost per reboot. The device announces each boot with a birth that
// carries a new `ts`, and the gateway restarts its hole count at a new birth, so a skip is not
// reported as missed messages. Larger blocks mean fewer writes and longer skips.
#include <cstdint>
#include <memory>
#include <string>

#include "xrm/device/status.hpp"

namespace xrm::device {

// Where one 64-bit counter lives. POSIX: FileCounterStorage; an MCU port writes it to its own
// flash/EEPROM/NVS, and must make save() atomic (old or new value after a power cut, never a mix).
class CounterStorage {
 public:
  virtual ~CounterStorage() = default;
  // `found` is false (and `value` untouched) when nothing was ever saved.
  virtual Status load(std::uint64_t& value, bool& found) = 0;
  // Durable when it returns ok.
  virtual Status save(std::uint64_t value) = 0;
};

// A small text file, replaced atomically: write PATH.tmp, fsync it, rename over PATH, fsync the
// directory. A crash leaves either the old or the new file; a stale PATH.tmp is ignored.
class FileCounterStorage : public CounterStorage {
 public:
  explicit FileCounterStorage(std::string path) : path_(std::move(path)) {}
  Status load(std::uint64_t& value, bool& found) override;
  Status save(std::uint64_t value) override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class SequenceStore {
 public:
  static constexpr std::uint32_t kDefaultBlock = 100;

  // `storage` must outlive the store. `block` (at least 1) is how many numbers one write reserves.
  explicit SequenceStore(CounterStorage& storage, std::uint32_t block = kDefaultBlock);
  SequenceStore(const SequenceStore&) = delete;
  SequenceStore& operator=(const SequenceStore&) = delete;

  // Loads the persisted reservation (0 if none): numbering continues there. Call once; the first
  // next() then writes the first reservation.
  Status open();

  // The next number (32-bit, wraps after 4294967295). Writes storage once per block; if that
  // write fails, no number is handed out and the error names the storage.
  Status next(std::uint32_t& seq);

  // What the next call to next() returns (for diagnostics and tests).
  std::uint32_t peek() const { return static_cast<std::uint32_t>(next_); }
  // How many times storage was written since open() (for tests and wear estimates).
  std::uint64_t writes() const { return writes_; }

 private:
  CounterStorage& storage_;
  std::uint32_t block_;
  bool open_ = false;
  std::uint64_t next_ = 0;      // 64-bit internally; truncated to 32 bits when handed out
  std::uint64_t reserved_ = 0;  // persisted: every number below it may have been used
  std::uint64_t writes_ = 0;
};

}  // namespace xrm::device
