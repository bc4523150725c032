// Zstd bodies: arbitrary bytes through the capped zstd decompressor, then the 1.0 decoder.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/remote_write_fuzz_common.h"
#include "ingest/remote_write/decompress.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string scratch;
  auto body =
      tp::ingest::decompressBody(std::string_view(reinterpret_cast<const char*>(data), size),
                                 tp::ingest::BodyEncoding::kZstd, 1 << 20, scratch);
  if (body.ok()) {
    if (body->size() > (1u << 20)) __builtin_trap();
    tp::fuzz::decodeAndEnrich(*body, tp::ingest::RemoteWriteVersion::kV1);
  }
  return 0;
}
