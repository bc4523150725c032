#pragma once
// Recognises training log lines (SPEC §5 and §11, docs/TRAINING.md) of Megatron-LM,
// Megatron-DeepSpeed, Primus, TorchTitan and NeMo, with ANSI colour codes and any logger prefix:
// - the start of the training loop ("training ...", "[before the start of training step]
//   datetime: ...", "Training starts at step N", ...) as the whole message after the prefix;
// - performance lines: "iteration N/ M | key: value | ..." in the Primus legacy, ROCm and HIP
//   layouts, upstream Megatron-LM / Megatron-DeepSpeed and NeMo's progress printer, and
//   TorchTitan's "step: N  loss: X  ...  mfu: Y%";
// - lifecycle lines: checkpoint save and load, start and end, and the end of training.
// Fields absent from a line stay absent (never 0); "a/b" pairs report the first value; seconds
// become milliseconds; nan and inf are kept. The iteration is an integer that fits int64, or the
// line is not a performance line.
//
// Cheap literal tests keep the ~80 % of lines that are not training lines away from the regular
// expressions (RE2: linear time), which only confirm candidate lines. One extractor is shared by
// all threads.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json_writer.h"
#include "config/config.h"

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

// What a lifecycle line (checkpoint, end of training) carries, each part when printed. The
// iteration is the printed one, else the number of a checkpoint directory named in the path
// (iter_0001000, step-1000, step=1000, global_step1000).
struct LifecycleDetails {
  std::optional<int64_t> iteration;
  std::string path;
  std::optional<int64_t> duration_ms;
};

struct Performance {
  std::array<std::optional<double>, kFieldCount> fields;
  std::vector<CustomField> custom;  // of configured patterns only
  LifecycleDetails lifecycle;       // for kStartTrain and the lifecycle kinds of LineKind
  // One of kBuiltInFormats, or a configured pattern's name; set for every kind but kNone
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

// The kind as configured patterns spell their type ("start", "checkpoint_save_end", ...;
// config::kPatternTypeNames), "none" for kNone.
std::string_view lineKindName(LineKind kind);

// The rank in the logger's prefix: Primus "[rank-63/64]" gives "63", DeepSpeed's and Megatron's
// "[Rank 3]" and torchrun's "[default3]:" / "[rank3]:" (a local rank) give "3"; empty when there
// is none.
std::string_view rankOf(std::string_view message);

// Names of the built-in formats, as reported in Performance::format.
inline constexpr std::string_view kPrimusHipFormat = "primus-hip";
inline constexpr std::string_view kPrimusRocmFormat = "primus-rocm";
inline constexpr std::string_view kPrimusLegacyFormat = "primus-legacy";
inline constexpr std::string_view kMegatronFormat = "megatron";
inline constexpr std::string_view kTorchtitanFormat = "torchtitan";
inline constexpr std::string_view kNemoFormat = "nemo";  // NeMo and the Lightning lines it prints
inline constexpr std::string_view kPrimusFormat = "primus";  // the Primus runtime's own lines
inline constexpr std::array<std::string_view, 7> kBuiltInFormats = {
    kPrimusHipFormat,  kPrimusRocmFormat, kPrimusLegacyFormat, kMegatronFormat,
    kTorchtitanFormat, kNemoFormat,       kPrimusFormat};

// A compiled pattern: a configured one, a stored one, or a built-in lifecycle line
// (performance_extractor.cpp).
struct Pattern;

// A row of the training_log_pattern table as a pattern (training/pattern_registry.cpp translates
// the row). A shadow pattern is evaluated and counted, but never decides what a line is.
struct StoredPattern {
  int64_t id = 0;
  config::TrainingPattern pattern;  // name: the row's name, else "pattern-<id>"
  std::string framework;            // informational, as the row has it
  bool shadow = false;
};

enum class PatternOrigin { kConfigured, kStored, kBuiltIn };
std::string_view patternOriginName(PatternOrigin origin);  // "configured", "database", "built-in"

// One pattern that matched a line, for the dry run (PerformanceExtractor::explain).
struct PatternMatch {
  PatternOrigin origin = PatternOrigin::kBuiltIn;
  std::string_view name;   // the format reported; views into the extractor
  int64_t id = 0;          // of stored patterns
  std::string_view regex;  // empty for the built-in performance formats, which are no regex
  std::string_view framework;
  LineKind kind = LineKind::kNone;  // kNone: an ignore (blacklist) pattern
  bool shadow = false;
  std::vector<std::pair<std::string, std::string>> groups;  // named groups, as the regex has them
  Performance performance;
};

struct Explanation {
  std::string cleaned;  // the line without colour codes, trimmed: what the patterns see
  std::vector<PatternMatch> matches;  // every pattern that matched, in the order they are tried
  std::optional<size_t> winner;       // the match that decides the line; none: nothing did
};

// How close a line comes to one performance format, for the explain route: the share of the
// format's parts the line has. For the built-in formats, the parts of the layout in order and
// where the first one it lacks was looked for; for a pattern, the words of its regex outside
// groups and escapes (an estimate: a regex has no parts in order).
struct FormatCandidate {
  PatternOrigin origin = PatternOrigin::kBuiltIn;
  std::string_view name;  // views into the extractor
  int64_t id = 0;         // of stored patterns
  bool shadow = false;
  size_t parts_found = 0;
  size_t parts = 0;
  std::string missing;  // the first part the line lacks, or the words it lacks
  std::string at;       // built-in formats: the text from where that part was looked for
};

// One pattern of the extractor as the console lists it.
struct PatternInfo {
  PatternOrigin origin = PatternOrigin::kBuiltIn;
  std::string_view name;   // views into the extractor
  int64_t id = 0;          // of stored patterns
  std::string_view regex;  // empty for the built-in performance formats, which are no regex
  std::string_view framework;
  LineKind kind = LineKind::kNone;  // kNone: an ignore (blacklist) pattern
  bool shadow = false;
};

class PerformanceExtractor {
 public:
  // The built-in formats only.
  PerformanceExtractor();
  ~PerformanceExtractor();

  // Built-in formats plus the configured ones, which are tried first, in order; an `ignore`
  // pattern that matches makes the line kNone. Each regex is compiled here, once. A pattern that
  // does not compile, has a group its type does not take (performance: current_iteration, which
  // it needs, the other kFieldNames and custom fields named [a-z_][a-z0-9_]*; start, end and
  // checkpoint types: iteration, path, duration_ms; ignore: none) is an InvalidArgument naming it.
  static absl::StatusOr<std::unique_ptr<PerformanceExtractor>> create(
      const std::vector<config::TrainingPattern>& patterns);

  // Compiles a stored pattern under the rules of create(), its groups also spelled as Lens's
  // patterns spell them (CurrentIteration, LmLoss, TFLOPS, MemUsage, Iteration, Path,
  // DurationMs, ...); InvalidArgument naming the problem.
  static absl::StatusOr<std::shared_ptr<const Pattern>> compileStored(const StoredPattern& stored);
  // Whether a compiled pattern matches `line` (the dry run's test of a row's sample_line).
  static bool matches(const Pattern& pattern, std::string_view line);

  // A copy of this extractor with `stored` tried after the configured patterns and before the
  // built-in formats, in this order (each extractor's stored patterns replace the last ones).
  std::shared_ptr<const PerformanceExtractor> withStored(
      std::vector<std::shared_ptr<const Pattern>> stored) const;

  // Classifies one log message; fills `performance` for every kind but kNone. A line that a
  // format matches but whose iteration is not an int64 (70 digits, 2^64, "1.5") is kNone and sets
  // *bad_iteration, when given, so that the near miss can be counted. stored_hits[i], when given
  // (storedCount() entries), counts the lines stored pattern i matched, shadow ones included.
  LineKind extract(std::string_view message, Performance* performance,
                   bool* bad_iteration = nullptr, std::span<uint64_t> stored_hits = {}) const;

  // Every pattern that matches `message` and the one that decides it, without side effects.
  Explanation explain(std::string_view message) const;

  // The performance formats `message` comes closest to, best first (at most 3; the order tried
  // breaks ties), for a line that none of them matched. Formats it has no part of are left out.
  std::vector<FormatCandidate> nearestFormats(std::string_view message) const;

  // Every pattern, in the order lines meet them: configured, stored, then the built-in
  // performance formats and lifecycle lines.
  std::vector<PatternInfo> describe() const;

  // Every name Performance::format can take: configured patterns, then the built-in ones (stored
  // patterns are counted by id instead).
  std::vector<std::string_view> formatNames() const;

  size_t storedCount() const { return stored_.size(); }
  const std::vector<std::shared_ptr<const Pattern>>& stored() const { return stored_; }

 private:
  // The built-in start, end and checkpoint lines fall in groups ("gates"), each admitted by one
  // literal test (performance_extractor.cpp).
  static constexpr size_t kGateCount = 4;

  LineKind classify(std::string_view message, Performance* performance, bool& bad_iteration,
                    std::span<uint64_t> stored_hits) const;
  LineKind classifyBuiltIn(std::string_view text, Performance* performance,
                           bool& bad_iteration) const;
  LineKind matchGate(size_t gate, std::string_view text, Performance* performance,
                     bool& bad_iteration) const;

  std::array<std::vector<Pattern>, kGateCount> built_in_;
  std::vector<Pattern> configured_;
  std::vector<std::shared_ptr<const Pattern>> stored_;
};

// What a stored pattern is, for the registry and the dry run.
int64_t storedIdOf(const Pattern& pattern);
bool isShadow(const Pattern& pattern);
LineKind patternKind(const Pattern& pattern);

// Writes the fields present as a JSON object, the known fields first, then the custom ones;
// integral fields as integers, non-finite values as the strings "NaN", "+Inf", "-Inf". mfu and
// mem_usage_ratio are percentages, as printed (0.31 for "mfu: 0.31%").
void writePerformanceJson(common::JsonWriter& writer, const Performance& performance);
// Adds the parts of a lifecycle line that were printed to the object being written: "iteration",
// "path", "duration_ms".
void writeLifecycleFields(common::JsonWriter& writer, const LifecycleDetails& details);

}  // namespace tp::training
