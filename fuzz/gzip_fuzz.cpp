// gzip bodies: arbitrary bytes through the capped inflater; the output must respect the cap and
// keep its padding.

#include <cstddef>
#include <cstdint>
#include <string>

#include "ingest/fluentbit/gzip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kCap = 1 << 20;
  constexpr size_t kPadding = 64;
  std::string out;
  auto inflated = tp::ingest::inflateGzip(
      std::string_view(reinterpret_cast<const char*>(data), size), kCap, kPadding, out);
  if (inflated.ok() && (*inflated > kCap || out.size() < *inflated + kPadding)) __builtin_trap();
  if (out.size() > 2 * kCap + kPadding + 2) __builtin_trap();
  return 0;
}
