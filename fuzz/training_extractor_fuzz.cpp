// Training-log extractor: arbitrary bytes as a log message must be classified without a crash
// or undefined behaviour, and extracted iterations must be numbers.
// (Writing the JSON document is left to the unit tests: Debian's rapidjson 1.1 does arithmetic
// on a null pointer on its first write, which clang's UBSan reports on every input.)

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "training/performance_extractor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tp::training::PerformanceExtractor kExtractor;
  tp::training::Performance performance;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  if (kExtractor.extract(line, &performance) == tp::training::LineKind::kPerformance) {
    const auto& iteration = performance[tp::training::Field::kCurrentIteration];
    if (iteration && std::isnan(*iteration)) __builtin_trap();  // the header only takes digits
  }
  return 0;
}
