#pragma once
// Per-thread scratch buffers of a request handler are reused from one request to the next; one
// unusually large (or hostile) body must not pin its buffers in every I/O thread for good. A
// ScratchRelease declared beside them frees, when the request's scope ends, each one that grew
// beyond `keep_bytes`.

#include <cstddef>
#include <string>
#include <tuple>
#include <vector>

#include "common/strings.h"

namespace tp::common {

// What the ingestion handlers keep: the batches senders usually post stay below and reuse it.
inline constexpr size_t kScratchKeepBytes = 16 << 20;

// Each buffer is a std::string, has releaseIfLarger(size_t keep), or is a vector of such buffers
// (one per lane), which share `keep_bytes`.
template <typename... Buffers>
class ScratchRelease {
 public:
  explicit ScratchRelease(size_t keep_bytes, Buffers&... buffers)
      : keep_bytes_(keep_bytes), buffers_(buffers...) {}
  ScratchRelease(const ScratchRelease&) = delete;
  ScratchRelease& operator=(const ScratchRelease&) = delete;
  ~ScratchRelease() {
    std::apply([&](auto&... buffers) { (release(buffers), ...); }, buffers_);
  }

 private:
  void release(std::string& buffer) const { releaseIfLarger(buffer, keep_bytes_); }
  template <typename Buffer>
  void release(Buffer& buffer) const {
    buffer.releaseIfLarger(keep_bytes_);
  }
  template <typename Buffer>
  void release(std::vector<Buffer>& buffers) const {
    for (Buffer& buffer : buffers) buffer.releaseIfLarger(keep_bytes_ / buffers.size());
  }

  size_t keep_bytes_;
  std::tuple<Buffers&...> buffers_;
};

}  // namespace tp::common
