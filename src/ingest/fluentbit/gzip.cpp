#include "ingest/fluentbit/gzip.h"

#include <zlib.h>

#include <algorithm>

#include "common/strings.h"

namespace tp::ingest {
namespace {

constexpr size_t kFirstStep = 256 << 10;

absl::Status tooLarge(size_t limit) {
  return absl::ResourceExhaustedError(common::concat("inflated gzip body exceeds the limit of ",
                                                     limit, " bytes (http.maxDecodedBytes)"));
}

// z_stream owns zlib's internal state; end it on every path.
class Inflater {
 public:
  Inflater() {
    // 15 + 32: accept gzip and zlib headers.
    ok_ = inflateInit2(&stream_, 15 + 32) == Z_OK;
  }
  ~Inflater() {
    if (ok_) inflateEnd(&stream_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  bool ok() const { return ok_; }
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

}  // namespace

absl::StatusOr<size_t> inflateGzip(std::string_view body, size_t max_decoded_bytes,
                                   size_t tail_room, std::string& out) {
  Inflater inflater;
  if (!inflater.ok()) return absl::InternalError("cannot initialise zlib");
  z_stream& stream = inflater.stream();
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(std::min<size_t>(body.size(), UINT32_MAX));
  if (body.size() > UINT32_MAX) return tooLarge(max_decoded_bytes);

  // The buffer grows by doubling up to the cap (+1 byte to detect overflow) and never beyond.
  const size_t ceiling = max_decoded_bytes + 1;
  out.resize(std::min(ceiling, std::max(kFirstStep, body.size() * 4)) + tail_room);
  size_t produced = 0;
  while (true) {
    const size_t room = out.size() - tail_room - produced;
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    stream.avail_out = static_cast<uInt>(std::min<size_t>(room, UINT32_MAX));
    const uInt offered = stream.avail_out;
    const int result = inflate(&stream, Z_NO_FLUSH);
    produced += offered - stream.avail_out;
    if (produced > max_decoded_bytes) return tooLarge(max_decoded_bytes);
    if (result == Z_STREAM_END) {
      if (stream.avail_in != 0) {
        return absl::InvalidArgumentError("cannot decode gzip body: data after the end of stream");
      }
      break;
    }
    if (result == Z_BUF_ERROR && stream.avail_in == 0) {
      return absl::InvalidArgumentError("cannot decode gzip body: truncated stream");
    }
    if (result != Z_OK && result != Z_BUF_ERROR) {
      return absl::InvalidArgumentError(common::concat(
          "cannot decode gzip body: ", stream.msg != nullptr ? stream.msg : "corrupt data"));
    }
    if (produced == out.size() - tail_room) {
      const size_t capacity = out.size() - tail_room;
      if (capacity >= ceiling) return tooLarge(max_decoded_bytes);
      out.resize(std::min(ceiling, capacity * 2) + tail_room);
    }
  }
  out.resize(produced + tail_room);
  return produced;
}

}  // namespace tp::ingest
