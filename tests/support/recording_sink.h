#pragma once
// A forward::BatchSink that keeps what it is given, for the tests of the producers of series.

#include <gtest/gtest.h>

#include <mutex>
#include <span>
#include <string>

#include "forward/forwarder.h"

namespace tp::testing {

// The forwarder as a producer of series sees it: what it was given, refusing while told to.
class RecordingSink : public forward::BatchSink {
 public:
  explicit RecordingSink(size_t lanes) : lanes_(lanes) {}
  absl::Status submit(std::span<const forward::LanePart> parts) override {
    std::lock_guard lock(mutex_);
    if (refusing_) return absl::ResourceExhaustedError("queue full");
    EXPECT_EQ(parts.size(), lanes_);
    for (const forward::LanePart& part : parts) {
      samples_ += part.samples;
      bytes_ += part.fields;
    }
    return absl::OkStatus();
  }
  size_t lanes() const override { return lanes_; }

  void refuse(bool refusing) {
    std::lock_guard lock(mutex_);
    refusing_ = refusing;
  }
  size_t samples() {
    std::lock_guard lock(mutex_);
    return samples_;
  }
  std::string bytes() {
    std::lock_guard lock(mutex_);
    return bytes_;
  }

 private:
  const size_t lanes_;
  std::mutex mutex_;
  bool refusing_ = false;
  size_t samples_ = 0;
  std::string bytes_;
};

}  // namespace tp::testing
