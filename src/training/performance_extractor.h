#pragma once
// Recognises Megatron / Primus training log lines (SPEC §5): the training-loop start marker
// ("training ..." as the whole message after the logger's prefix) and performance lines
// ("iteration N/ M | key: value | ..."), in the Primus legacy, ROCm and HIP layouts and the
// upstream Megatron-LM / Megatron-DeepSpeed ones, with ANSI colour codes and any prefix.
// Fields absent from a line stay absent (never 0); "a/b" pairs report the first value; seconds
// become milliseconds; nan and inf are kept. The iteration is an integer that fits int64, or the
// line is not a performance line.
//
// A literal prefilter keeps the ~80 % of lines that are not training lines away from the
// regular expressions (RE2: linear time). One extractor is shared by all threads.

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json_writer.h"
#include "config/config.h"

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
  kMfu,
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
    "nan_iterations_number",
    "mfu"};

// A field of a configured pattern that is none of kFieldNames: its group's name and value.
struct CustomField {
  std::string_view name;  // owned by the extractor
  double value = 0;
};

// What a lifecycle line (checkpoint, end of training) carries, each part when printed.
struct LifecycleDetails {
  std::optional<int64_t> iteration;
  std::string path;
  std::optional<int64_t> duration_ms;
};

struct Performance {
  std::array<std::optional<double>, kFieldCount> fields;
  std::vector<CustomField> custom;  // of configured patterns only
  LifecycleDetails lifecycle;       // for the lifecycle kinds of LineKind
  // One of kBuiltInFormats, or a configured pattern's name
  std::string_view format;

  const std::optional<double>& operator[](Field field) const {
    return fields[static_cast<size_t>(field)];
  }
  std::optional<double>& operator[](Field field) { return fields[static_cast<size_t>(field)]; }
};

enum class LineKind {
  kNone,
  kStartTrain,
  kPerformance,
  kEndTrain,
  kCheckpointSaveStart,
  kCheckpointSaveEnd,
  kCheckpointLoadStart,
  kCheckpointLoadEnd,
};

// The rank in the logger's prefix ("[rank-63/64]" gives "63"); empty when there is none.
std::string_view rankOf(std::string_view message);

// Names of the built-in formats, as reported in Performance::format.
inline constexpr std::string_view kPrimusHipFormat = "primus-hip";
inline constexpr std::string_view kPrimusRocmFormat = "primus-rocm";
inline constexpr std::string_view kPrimusLegacyFormat = "primus-legacy";
inline constexpr std::string_view kMegatronFormat = "megatron";
inline constexpr std::array<std::string_view, 4> kBuiltInFormats = {
    kPrimusHipFormat, kPrimusRocmFormat, kPrimusLegacyFormat, kMegatronFormat};

// A format added in configuration: its named groups, each bound to a field.
struct ConfiguredPattern {
  std::string name;
  std::string prefilter;
  std::unique_ptr<re2::RE2> regex;
  std::vector<std::pair<int, Field>> groups;  // capture group index -> field
};

class PerformanceExtractor {
 public:
  // The built-in formats only.
  PerformanceExtractor();
  ~PerformanceExtractor();

  // Built-in formats plus the configured ones, which are tried first. Each regex is compiled
  // here, once; a pattern that does not compile, names a group that is not a field, or lacks
  // current_iteration is an InvalidArgument naming it.
  static absl::StatusOr<std::unique_ptr<PerformanceExtractor>> create(
      const std::vector<config::TrainingPattern>& patterns);

  // Classifies one log message; fills `performance` for kPerformance. A line that a format
  // matches but whose iteration is not an int64 (70 digits, 2^64, "1.5") is kNone and sets
  // *bad_iteration, when given, so that the near miss can be counted.
  LineKind extract(std::string_view message, Performance* performance,
                   bool* bad_iteration = nullptr) const;

  // Every name Performance::format can take: configured patterns, then the built-in ones.
  std::vector<std::string_view> formatNames() const;

 private:
  LineKind classify(std::string_view message, Performance* performance, bool& bad_iteration) const;
  bool matchConfigured(std::string_view text, Performance* performance, bool& bad_iteration) const;

  std::unique_ptr<re2::RE2> start_marker_;
  std::vector<ConfiguredPattern> configured_;
};

// Writes the fields present as a JSON object; integral fields as integers, non-finite values as
// the strings "NaN", "+Inf", "-Inf".
void writePerformanceJson(common::JsonWriter& writer, const Performance& performance);

}  // namespace tp::training
