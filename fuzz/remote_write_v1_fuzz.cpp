// Remote-write 1.0: arbitrary bytes as a decompressed WriteRequest, decoded and enriched against
// a small cluster; the output must always be a well-formed WriteRequest prefix-free stream.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/remote_write_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tp::fuzz::decodeAndEnrich(std::string_view(reinterpret_cast<const char*>(data), size),
                            tp::ingest::RemoteWriteVersion::kV1);
  return 0;
}
