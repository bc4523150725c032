// Training-log extractor: arbitrary bytes as a log message must be classified without a crash,
// and whatever it extracts must serialise as JSON.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "training/performance_extractor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tp::training::PerformanceExtractor kExtractor;
  tp::training::Performance performance;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  if (kExtractor.extract(line, &performance) == tp::training::LineKind::kPerformance) {
    rapidjson::StringBuffer buffer;
    tp::common::JsonWriter writer(buffer);
    tp::training::writePerformanceJson(writer, performance);
    if (!writer.IsComplete()) __builtin_trap();
  }
  return 0;
}
