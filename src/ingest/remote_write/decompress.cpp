#include "ingest/remote_write/decompress.h"

#include <snappy.h>
#include <zstd.h>

#include <memory>

#include "common/strings.h"

namespace tp::ingest {
namespace {

absl::Status tooLarge(uint64_t size, size_t limit) {
  return absl::ResourceExhaustedError(common::concat("decoded body of ", size,
                                                     " bytes exceeds the limit of ", limit,
                                                     " bytes (http.maxDecodedBytes)"));
}

struct ZstdContextDeleter {
  void operator()(ZSTD_DCtx* context) const { ZSTD_freeDCtx(context); }
};

absl::StatusOr<std::string_view> decompressZstd(std::string_view body, size_t limit,
                                                std::string& scratch) {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdContextDeleter> context(ZSTD_createDCtx());
  const unsigned long long declared = ZSTD_getFrameContentSize(body.data(), body.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return absl::InvalidArgumentError("cannot decode zstd body: not a zstd frame");
  }
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > limit) return tooLarge(declared, limit);
  ZSTD_DCtx_reset(context.get(), ZSTD_reset_session_only);
  // Streaming with a growing buffer also covers frames that do not declare their size and
  // bodies of several frames; the output never grows past the cap plus one step.
  scratch.resize(declared != ZSTD_CONTENTSIZE_UNKNOWN ? static_cast<size_t>(declared) + 1
                                                      : std::min<size_t>(limit + 1, 1 << 20));
  ZSTD_inBuffer input{body.data(), body.size(), 0};
  ZSTD_outBuffer output{scratch.data(), scratch.size(), 0};
  while (true) {
    const size_t result = ZSTD_decompressStream(context.get(), &output, &input);
    if (ZSTD_isError(result)) {
      return absl::InvalidArgumentError(
          common::concat("cannot decode zstd body: ", ZSTD_getErrorName(result)));
    }
    if (output.pos > limit) return tooLarge(output.pos, limit);
    if (input.pos == input.size && result == 0) break;
    if (input.pos == input.size && output.pos < output.size) {
      return absl::InvalidArgumentError("cannot decode zstd body: truncated frame");
    }
    if (output.pos == output.size) {
      scratch.resize(std::min(scratch.size() * 2, limit + 1));
      if (output.size == scratch.size()) return tooLarge(output.pos + 1, limit);
      output.dst = scratch.data();
      output.size = scratch.size();
    }
  }
  return std::string_view(scratch.data(), output.pos);
}

}  // namespace

absl::StatusOr<std::string_view> decompressBody(std::string_view body, BodyEncoding encoding,
                                                size_t max_decoded_bytes, std::string& scratch) {
  switch (encoding) {
    case BodyEncoding::kIdentity:
      if (body.size() > max_decoded_bytes) return tooLarge(body.size(), max_decoded_bytes);
      return body;
    case BodyEncoding::kSnappy: {
      size_t declared = 0;
      if (!snappy::GetUncompressedLength(body.data(), body.size(), &declared)) {
        return absl::InvalidArgumentError(
            "cannot decode snappy body: invalid length preamble (is it snappy block format?)");
      }
      if (declared > max_decoded_bytes) return tooLarge(declared, max_decoded_bytes);
      scratch.resize(declared);
      if (!snappy::RawUncompress(body.data(), body.size(), scratch.data())) {
        return absl::InvalidArgumentError("cannot decode snappy body: corrupt or truncated data");
      }
      return std::string_view(scratch.data(), declared);
    }
    case BodyEncoding::kZstd:
      return decompressZstd(body, max_decoded_bytes, scratch);
  }
  return absl::InternalError("unknown body encoding");
}

}  // namespace tp::ingest
