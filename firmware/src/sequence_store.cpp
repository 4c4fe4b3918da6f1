#include "xrm/device/sequence_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

namespace xrm::device {
namespace {

constexpr std::string_view kMagic = "xrm-seq v1 ";

std::string errno_text(int err) { return std::strerror(err); }

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Status FileCounterStorage::load(std::uint64_t& value, bool& found) {
  found = false;
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::ok();
    return Status::error(path_ + ": cannot open: " + errno_text(errno));
  }
  char buf[64];
  std::size_t len = 0;
  while (len < sizeof buf) {
    const ssize_t n = ::read(fd, buf + len, sizeof buf - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::error(path_ + ": cannot read: " + errno_text(err));
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  ::close(fd);
  std::string_view text(buf, len);
  if (text.substr(0, kMagic.size()) != kMagic || text.empty() || text.back() != '\n') {
    return Status::error(path_ + ": not a sequence file (expected \"xrm-seq v1 N\")");
  }
  text.remove_prefix(kMagic.size());
  text.remove_suffix(1);
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return Status::error(path_ + ": bad counter \"" + std::string(text) + "\"");
  }
  value = v;
  found = true;
  return Status::ok();
}

Status FileCounterStorage::save(std::uint64_t value) {
  char buf[64];
  std::memcpy(buf, kMagic.data(), kMagic.size());
  auto [end, ec] = std::to_chars(buf + kMagic.size(), buf + sizeof buf - 1, value);
  if (ec != std::errc()) return Status::error(path_ + ": counter does not fit");
  *end++ = '\n';
  const std::size_t len = static_cast<std::size_t>(end - buf);

  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error(tmp + ": cannot create: " + errno_text(errno));
  std::size_t done = 0;
  while (done < len) {
    const ssize_t n = ::write(fd, buf + done, len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::error(tmp + ": cannot write: " + errno_text(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::error(tmp + ": fsync failed: " + errno_text(err));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Status::error(path_ + ": cannot replace: " + errno_text(err));
  }
  // The rename itself must reach the disk, or a power cut could bring back the old reservation.
  const std::string dir = parent_dir(path_);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Status::error(dir + ": cannot open directory: " + errno_text(errno));
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) return Status::error(dir + ": fsync failed: " + errno_text(err));
  return Status::ok();
}

SequenceStore::SequenceStore(CounterStorage& storage, std::uint32_t block)
    : storage_(storage), block_(block == 0 ? 1 : block) {}

Status SequenceStore::open() {
  std::uint64_t persisted = 0;
  bool found = false;
  if (Status st = storage_.load(persisted, found); !st) return st;
  next_ = found ? persisted : 0;
  reserved_ = next_;
  open_ = true;
  return Status::ok();
}

Status SequenceStore::next(std::uint32_t& seq) {
  if (!open_) return Status::error("sequence store used before open()");
  if (next_ >= reserved_) {
    const std::uint64_t want = next_ + block_;
    if (Status st = storage_.save(want); !st) return st;
    reserved_ = want;
    ++writes_;
  }
  seq = static_cast<std::uint32_t>(next_);
  ++next_;
  return Status::ok();
}

}  // namespace xrm::device
