#include "training/performance_extractor.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "common/strings.h"
#include "re2/re2.h"

namespace tp::training {
namespace {

struct KeyField {
  std::string_view key;  // lower case, as printed before the ':'
  Field field;
  double scale;
};

constexpr KeyField kKeyFields[] = {
    {"consumed samples", Field::kConsumedSamples, 1},
    {"elapsed time per iteration (ms)", Field::kElapsedTimePerIterationMs, 1},
    {"elapsed time per iteration (s)", Field::kElapsedTimePerIterationMs, 1000},
    {"mem usages", Field::kMemUsages, 1},
    {"throughput per gpu (tflop/s/gpu)", Field::kTflops, 1},
    {"tflops", Field::kTflops, 1},
    {"tokens per gpu (tokens/s/gpu)", Field::kTokensPerGpu, 1},
    {"learning rate", Field::kLearningRate, 1},
    {"global batch size", Field::kGlobalBatchSize, 1},
    {"lm loss", Field::kLmLoss, 1},
    {"loss scale", Field::kLossScale, 1},
    {"grad norm", Field::kGradNorm, 1},
    {"num zeros", Field::kNumZeros, 1},
    {"number of skipped iterations", Field::kSkippedIterationsNumber, 1},
    {"number of nan iterations", Field::kNanIterationsNumber, 1},
};

constexpr std::string_view kMemoryBlockKey = "mem usage/free/total/usage_ratio";

constexpr Field kIntegralFields[] = {Field::kCurrentIteration,        Field::kTargetIteration,
                                     Field::kConsumedSamples,         Field::kGlobalBatchSize,
                                     Field::kSkippedIterationsNumber, Field::kNanIterationsNumber};

// Removes ANSI escape sequences (colour codes) into `out`.
std::string_view stripAnsi(std::string_view text, std::string& out) {
  if (text.find('\x1b') == std::string_view::npos) return text;
  out.clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\x1b') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '[') {
      i += 2;
      while (i < text.size() && !(text[i] >= '@' && text[i] <= '~')) ++i;
    } else {
      ++i;  // a two-byte escape
    }
  }
  return out;
}

// The leading number of a value such as "16601.3/17219.3", "253.38GB", "98.98%", "nan".
std::optional<double> parseNumber(std::string_view text) {
  text = common::trim(text);
  text = text.substr(0, text.find('/'));
  char buffer[64];
  if (text.empty() || text.size() >= sizeof(buffer)) return std::nullopt;
  text.copy(buffer, text.size());
  buffer[text.size()] = '\0';
  char* end = nullptr;
  const double value = std::strtod(buffer, &end);
  if (end == buffer) return std::nullopt;
  // Only a unit may follow the number.
  for (const char* rest = end; *rest != '\0'; ++rest) {
    if (!std::isalpha(static_cast<unsigned char>(*rest)) && *rest != '%' && *rest != ' ') {
      return std::nullopt;
    }
  }
  return value;
}

// An iteration: an integer that fits int64, as a double (exact up to 2^53, far beyond the
// database column). Anything else is no iteration rather than a float.
std::optional<double> parseIteration(std::string_view text) {
  text = common::trim(text);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return static_cast<double>(value);
}

std::string_view lowerInto(std::string_view text, char* buffer, size_t capacity) {
  const size_t size = std::min(text.size(), capacity);
  for (size_t i = 0; i < size; ++i) {
    buffer[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  }
  return {buffer, size};
}

void readMemoryBlock(std::string_view key, std::string_view value, Performance* performance) {
  if ((*performance)[Field::kMemUsages]) return;  // newer Primus prints several: the first wins
  static constexpr Field kParts[] = {Field::kMemUsages, Field::kMemFree, Field::kMemTotal,
                                     Field::kMemUsageRatio};
  size_t part = 0;
  for (std::string_view rest = value; part < std::size(kParts); ++part) {
    const size_t slash = rest.find('/');
    (*performance)[kParts[part]] = parseNumber(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (key.starts_with("hip")) {
    performance->format = kPrimusHipFormat;
  } else if (key.starts_with("rocm")) {
    performance->format = kPrimusRocmFormat;
  }
}

}  // namespace

PerformanceExtractor::PerformanceExtractor()
    : start_marker_(std::make_unique<re2::RE2>(R"((?:^|[\]:>|])\s*training \.\.\.$)")),
      iteration_header_(std::make_unique<re2::RE2>(R"(\biteration\s+(\d+)\s*/\s*(\d+)\s*\|)")) {}

PerformanceExtractor::~PerformanceExtractor() = default;

absl::StatusOr<std::unique_ptr<PerformanceExtractor>> PerformanceExtractor::create(
    const std::vector<config::TrainingPattern>& patterns) {
  auto extractor = std::make_unique<PerformanceExtractor>();
  for (const config::TrainingPattern& pattern : patterns) {
    const auto invalid = [&pattern](std::string_view problem) {
      return absl::InvalidArgumentError(common::concat(
          "config: invalid training.patterns: pattern '", pattern.name, "': ", problem));
    };
    re2::RE2::Options options;
    options.set_log_errors(false);
    auto regex = std::make_unique<re2::RE2>(pattern.regex, options);
    if (!regex->ok()) return invalid(regex->error());
    ConfiguredPattern configured{pattern.name, pattern.prefilter, nullptr, {}};
    bool has_iteration = false;
    for (const auto& [group, index] : regex->NamedCapturingGroups()) {
      const auto known = std::find(kFieldNames.begin(), kFieldNames.end(), group);
      if (known == kFieldNames.end()) {
        return invalid(common::concat("group '", group,
                                      "' is not a performance field (fields are the keys of "
                                      "the training_performance document, e.g. lm_loss)"));
      }
      const auto field = static_cast<Field>(known - kFieldNames.begin());
      has_iteration = has_iteration || field == Field::kCurrentIteration;
      configured.groups.emplace_back(index, field);
    }
    if (!has_iteration) return invalid("no group named current_iteration");
    configured.regex = std::move(regex);
    extractor->configured_.push_back(std::move(configured));
  }
  return extractor;
}

std::vector<std::string_view> PerformanceExtractor::formatNames() const {
  std::vector<std::string_view> names;
  for (const ConfiguredPattern& pattern : configured_) names.push_back(pattern.name);
  names.insert(names.end(), kBuiltInFormats.begin(), kBuiltInFormats.end());
  return names;
}

bool PerformanceExtractor::matchConfigured(std::string_view text, Performance* performance,
                                           bool& bad_iteration) const {
  constexpr int kMaxGroups = 64;
  re2::StringPiece groups[kMaxGroups];
  const re2::StringPiece input(text.data(), text.size());
  for (const ConfiguredPattern& pattern : configured_) {
    if (!pattern.prefilter.empty() && text.find(pattern.prefilter) == std::string_view::npos) {
      continue;
    }
    const int count = std::min(kMaxGroups, pattern.regex->NumberOfCapturingGroups() + 1);
    if (!pattern.regex->Match(input, 0, input.size(), re2::RE2::UNANCHORED, groups, count)) {
      continue;
    }
    *performance = Performance{};
    performance->format = pattern.name;
    for (const auto& [index, field] : pattern.groups) {
      if (index >= count || groups[index].data() == nullptr) continue;
      const std::string_view value(groups[index].data(), groups[index].size());
      if (field == Field::kCurrentIteration) {
        (*performance)[field] = parseIteration(value);
        bad_iteration = bad_iteration || !(*performance)[field];
      } else {
        (*performance)[field] = parseNumber(value);
      }
    }
    if ((*performance)[Field::kCurrentIteration]) return true;
  }
  return false;
}

LineKind PerformanceExtractor::extract(std::string_view message, Performance* performance,
                                       bool* bad_iteration) const {
  bool bad = false;
  const LineKind kind = classify(message, performance, bad);
  if (bad_iteration != nullptr) *bad_iteration = bad && kind == LineKind::kNone;
  return kind;
}

LineKind PerformanceExtractor::classify(std::string_view message, Performance* performance,
                                        bool& bad_iteration) const {
  thread_local std::string clean_buffer;
  const std::string_view text = common::trim(stripAnsi(message, clean_buffer));

  // "training ..." as the whole message after the logger's prefix; not inside a longer word or
  // an argument dump ("..._during_training ........ False").
  if (text.ends_with("training ...")) {
    return re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *start_marker_)
               ? LineKind::kStartTrain
               : LineKind::kNone;
  }
  if (!configured_.empty() && matchConfigured(text, performance, bad_iteration)) {
    return LineKind::kPerformance;
  }
  // Prefilter: performance lines always have both.
  const size_t iteration = text.find("iteration");
  if (iteration == std::string_view::npos || text.find('|', iteration) == std::string_view::npos) {
    return LineKind::kNone;
  }
  re2::StringPiece groups[3];
  const re2::StringPiece input(text.data(), text.size());
  if (!iteration_header_->Match(input, iteration > 0 ? iteration - 1 : 0, input.size(),
                                re2::RE2::UNANCHORED, groups, 3)) {
    return LineKind::kNone;
  }
  const std::optional<double> current =
      parseIteration(std::string_view(groups[1].data(), groups[1].size()));
  if (!current) {
    bad_iteration = true;
    return LineKind::kNone;
  }
  *performance = Performance{};
  performance->format = kMegatronFormat;
  (*performance)[Field::kCurrentIteration] = current;
  (*performance)[Field::kTargetIteration] =
      parseIteration(std::string_view(groups[2].data(), groups[2].size()));

  std::string_view rest = text.substr(static_cast<size_t>(groups[0].end() - input.begin()));
  char key_buffer[64];
  while (!rest.empty()) {
    const size_t bar = rest.find('|');
    const std::string_view segment = rest.substr(0, bar);
    rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
    const size_t colon = segment.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view raw_key = common::trim(segment.substr(0, colon));
    if (raw_key.size() > sizeof(key_buffer)) continue;
    const std::string_view key = lowerInto(raw_key, key_buffer, sizeof(key_buffer));
    const std::string_view value = segment.substr(colon + 1);
    if (key.ends_with(kMemoryBlockKey)) {
      readMemoryBlock(key, value, performance);
      continue;
    }
    for (const KeyField& known : kKeyFields) {
      if (key != known.key) continue;
      std::optional<double> number = parseNumber(value);
      if (number) *number *= known.scale;
      if (!(*performance)[known.field]) (*performance)[known.field] = number;
      if (known.field == Field::kMemUsages) performance->format = kPrimusLegacyFormat;
      break;
    }
  }
  return LineKind::kPerformance;
}

void writePerformanceJson(common::JsonWriter& writer, const Performance& performance) {
  writer.StartObject();
  for (size_t i = 0; i < kFieldCount; ++i) {
    const std::optional<double>& value = performance.fields[i];
    if (!value) continue;
    common::writeString(writer, kFieldNames[i]);
    if (std::isnan(*value)) {
      writer.String("NaN");
    } else if (std::isinf(*value)) {
      writer.String(*value > 0 ? "+Inf" : "-Inf");
    } else if (std::find(std::begin(kIntegralFields), std::end(kIntegralFields),
                         static_cast<Field>(i)) != std::end(kIntegralFields) &&
               *value == std::floor(*value) && std::fabs(*value) < 9e15) {
      writer.Int64(static_cast<int64_t>(*value));
    } else {
      writer.Double(*value);
    }
  }
  writer.EndObject();
}

}  // namespace tp::training
