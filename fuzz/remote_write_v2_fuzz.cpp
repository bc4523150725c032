// Remote-write 2.0: arbitrary bytes as a decompressed io.prometheus.write.v2.Request.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/remote_write_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tp::fuzz::decodeAndEnrich(std::string_view(reinterpret_cast<const char*>(data), size),
                            tp::ingest::RemoteWriteVersion::kV2);
  return 0;
}
