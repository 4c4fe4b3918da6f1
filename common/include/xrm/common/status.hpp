#pragma once
// One error type for expected failures (bad payload, full disk, broker gone), after LevelDB's
// Status. Exceptions are kept for library edges (Paho, toml++) and fatal start-up errors.
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace xrm {

class Status {
 public:
  enum class Code { kOk, kInvalidArgument, kNotFound, kAlreadyExists, kIoError, kCorruption, kUnavailable, kInternal, kPermissionDenied };

  Status() = default;
  static Status ok() { return {}; }
  static Status invalid_argument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status not_found(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status already_exists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status io_error(std::string msg) { return {Code::kIoError, std::move(msg)}; }
  static Status corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  // The caller may not do this (a control client outside the configured group).
  static Status permission_denied(std::string msg) { return {Code::kPermissionDenied, std::move(msg)}; }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>"; "ok" for success.
  std::string to_string() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none. A Result built from an ok Status is a
// programming error (there would be neither value nor error), checked in debug builds.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.is_ok()) status_ = Status::internal("Result built from an ok Status");
  }

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace xrm
