#pragma once
// Recognises Megatron / Primus training log lines (SPEC §5): the training-loop start marker
// ("training ..." as the whole message after the logger's prefix) and performance lines
// ("iteration N/ M | key: value | ..."), in the Primus legacy, ROCm and HIP layouts and the
// upstream Megatron-LM / Megatron-DeepSpeed ones, with ANSI colour codes and any prefix.
// Fields absent from a line stay absent (never 0); "a/b" pairs report the first value; seconds
// become milliseconds; nan and inf are kept.
//
// A literal prefilter keeps the ~80 % of lines that are not training lines away from the
// regular expressions (RE2: linear time). One extractor is shared by all threads.

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/json_writer.h"

namespace re2 {
class RE2;
}

namespace tp::training {

enum class Field : size_t {
  kCurrentIteration = 0,
  kTargetIteration,
  kConsumedSamples,
  kElapsedTimePerIterationMs,
  kMemUsages,
  kMemFree,
  kMemTotal,
  kMemUsageRatio,
  kTflops,
  kTokensPerGpu,
  kLearningRate,
  kGlobalBatchSize,
  kLmLoss,
  kLossScale,
  kGradNorm,
  kNumZeros,
  kSkippedIterationsNumber,
  kNanIterationsNumber,
  kCount
};
inline constexpr size_t kFieldCount = static_cast<size_t>(Field::kCount);

// JSON keys of the training_performance document, as the Lens API reads them.
inline constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "current_iteration",
    "target_iteration",
    "consumed_samples",
    "elapsed_time_per_iteration_ms",
    "mem_usages",
    "mem_free",
    "mem_total",
    "mem_usage_ratio",
    "tflops",
    "tokens_per_gpu",
    "learning_rate",
    "global_batch_size",
    "lm_loss",
    "loss_scale",
    "grad_norm",
    "num_zeros",
    "skipped_iterations_number",
    "nan_iterations_number"};

struct Performance {
  std::array<std::optional<double>, kFieldCount> fields;
  std::string_view format;  // "primus-hip", "primus-rocm", "primus-legacy", "megatron"

  const std::optional<double>& operator[](Field field) const {
    return fields[static_cast<size_t>(field)];
  }
  std::optional<double>& operator[](Field field) { return fields[static_cast<size_t>(field)]; }
};

enum class LineKind { kNone, kStartTrain, kPerformance };

class PerformanceExtractor {
 public:
  PerformanceExtractor();
  ~PerformanceExtractor();

  // Classifies one log message; fills `performance` for kPerformance.
  LineKind extract(std::string_view message, Performance* performance) const;

 private:
  std::unique_ptr<re2::RE2> start_marker_;
  std::unique_ptr<re2::RE2> iteration_header_;
};

// Writes the fields present as a JSON object; integral fields as integers, non-finite values as
// the strings "NaN", "+Inf", "-Inf".
void writePerformanceJson(common::JsonWriter& writer, const Performance& performance);

}  // namespace tp::training
