// Training-log extractor: arbitrary bytes as a log message must be classified without a crash
// or undefined behaviour, by the built-in formats and by configured patterns of every type;
// extracted iterations must be numbers, lifecycle details plausible, the rank digits of the line.
// (Writing the JSON document is left to the unit tests: Debian's rapidjson 1.1 does arithmetic
// on a null pointer on its first write, which clang's UBSan reports on every input.)

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "training/performance_extractor.h"

namespace {

using tp::config::PatternType;
using tp::training::Field;
using tp::training::LineKind;

const tp::training::PerformanceExtractor& configuredExtractor() {
  static const auto kExtractor = tp::training::PerformanceExtractor::create({
      {"skip", R"(^#)", "#", PatternType::kIgnore},
      {"steps", R"(step=(?P<current_iteration>\S+) loss=(?P<lm_loss>\S+) tok=(?P<tokens>\S+))",
       "step="},
      {"saved", R"(saved (?P<path>\S+)(?: at (?P<iteration>\S+))? in (?P<duration_ms>\S+))",
       "saved ", PatternType::kCheckpointSaveEnd},
      {"begin", R"(begin(?: (?P<iteration>\d+))?)", "begin", PatternType::kStart},
  });
  if (!kExtractor.ok()) __builtin_trap();
  return **kExtractor;
}

void check(LineKind kind, const tp::training::Performance& performance) {
  if (kind == LineKind::kNone) return;
  if (performance.format.empty()) __builtin_trap();
  if (kind == LineKind::kPerformance) {
    const auto& iteration = performance[Field::kCurrentIteration];
    if (!iteration || std::isnan(*iteration)) __builtin_trap();  // the header only takes digits
    for (const tp::training::CustomField& field : performance.custom) {
      if (field.name != "tokens") __builtin_trap();
    }
    return;
  }
  // Custom fields belong to performance lines; durations are never negative.
  if (!performance.custom.empty()) __builtin_trap();
  const auto& duration = performance.lifecycle.duration_ms;
  if (duration && *duration < 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tp::training::PerformanceExtractor kExtractor;
  tp::training::Performance performance;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  check(kExtractor.extract(line, &performance), performance);
  check(configuredExtractor().extract(line, &performance), performance);
  const std::string_view rank = tp::training::rankOf(line);
  for (const char c : rank) {
    if (c < '0' || c > '9') __builtin_trap();
  }
  if (!rank.empty() && (rank.data() < line.data() || rank.data() + rank.size() > line.end())) {
    __builtin_trap();
  }
  return 0;
}
