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

// Removes ANSI escape sequences (colour codes) into `out`, copying the text between them at once.
std::string_view stripAnsi(std::string_view text, std::string& out) {
  size_t escape = text.find('\x1b');
  if (escape == std::string_view::npos) return text;
  out.clear();
  size_t next = 0;  // the first byte not yet copied or skipped
  while (escape != std::string_view::npos) {
    out.append(text.substr(next, escape - next));
    next = escape + 1;
    if (next < text.size() && text[next] == '[') {
      ++next;
      while (next < text.size() && !(text[next] >= '@' && text[next] <= '~')) ++next;
    }
    next = std::min(next + 1, text.size());  // the final byte, or the byte of a two-byte escape
    escape = text.find('\x1b', next);
  }
  out.append(text.substr(next));
  return out;
}

// Reads the number at the start of `text` the way strtod does, through from_chars where the two
// agree (decimal digits, optional '-'; no hexadecimal, no '+', within range), which is several
// times faster on the ~17 numbers of every performance line. Returns where the number ends.
const char* readNumber(std::string_view text, double* value) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  const char* digits = begin + (text[0] == '-' ? 1 : 0);
  const bool decimal =
      digits < end && (std::isdigit(static_cast<unsigned char>(*digits)) || *digits == '.');
  const bool hexadecimal =
      digits + 1 < end && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
  if (decimal && !hexadecimal) {
    const auto [parsed_end, error] = std::from_chars(begin, end, *value);
    if (error == std::errc()) return parsed_end;
  }
  char buffer[64];
  text.copy(buffer, text.size());
  buffer[text.size()] = '\0';
  char* parsed_end = nullptr;
  *value = std::strtod(buffer, &parsed_end);
  return begin + (parsed_end - buffer);
}

// The leading number of a value such as "16601.3/17219.3", "253.38GB", "98.98%", "nan".
std::optional<double> parseNumber(std::string_view text) {
  text = common::trim(text);
  text = text.substr(0, text.find('/'));
  if (text.empty() || text.size() >= 64) return std::nullopt;
  double value = 0;
  const char* end = readNumber(text, &value);
  if (end == text.data()) return std::nullopt;
  // Only a unit may follow the number (up to a NUL, where strtod's copy of the text ended).
  for (const char* rest = end; rest != text.data() + text.size() && *rest != '\0'; ++rest) {
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

// "iteration N/ M |" as the regular expression \biteration\s+(\d+)\s*/\s*(\d+)\s*\| finds it
// (RE2's \s, \d and \w), written out: the header is on every performance line, and the first
// match is unambiguous (each part stops where the next begins).
struct IterationHeader {
  std::string_view current;
  std::string_view target;
  size_t end = 0;  // just past the '|'
};

bool isRegexSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isWordChar(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

std::optional<IterationHeader> findIterationHeader(std::string_view text, size_t from) {
  constexpr std::string_view kWord = "iteration";
  for (size_t at = text.find(kWord, from); at != std::string_view::npos;
       at = text.find(kWord, at + 1)) {
    if (at > 0 && isWordChar(text[at - 1])) continue;
    size_t i = at + kWord.size();
    const auto skip = [&text, &i](bool (*part)(char)) {
      const size_t start = i;
      while (i < text.size() && part(text[i])) ++i;
      return i - start;
    };
    if (skip(isRegexSpace) == 0) continue;
    const size_t current = i;
    if (skip(isDigit) == 0) continue;
    const size_t current_end = i;
    skip(isRegexSpace);
    if (i == text.size() || text[i] != '/') continue;
    ++i;
    skip(isRegexSpace);
    const size_t target = i;
    if (skip(isDigit) == 0) continue;
    const size_t target_end = i;
    skip(isRegexSpace);
    if (i == text.size() || text[i] != '|') continue;
    return IterationHeader{text.substr(current, current_end - current),
                           text.substr(target, target_end - target), i + 1};
  }
  return std::nullopt;
}

// ASCII only, as std::tolower in the "C" locale the processor runs in, without its call per byte.
std::string_view lowerInto(std::string_view text, char* buffer, size_t capacity) {
  const size_t size = std::min(text.size(), capacity);
  for (size_t i = 0; i < size; ++i) {
    const char c = text[i];
    buffer[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
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
    : start_marker_(std::make_unique<re2::RE2>(R"((?:^|[\]:>|])\s*training \.\.\.$)")) {}

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
  const std::optional<IterationHeader> header = findIterationHeader(text, iteration);
  if (!header) return LineKind::kNone;
  const std::optional<double> current = parseIteration(header->current);
  if (!current) {
    bad_iteration = true;
    return LineKind::kNone;
  }
  *performance = Performance{};
  performance->format = kMegatronFormat;
  (*performance)[Field::kCurrentIteration] = current;
  (*performance)[Field::kTargetIteration] = parseIteration(header->target);

  std::string_view rest = text.substr(header->end);
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
  // The keys need no escaping: written as they stand, quoted once.
  static const std::array<std::string, kFieldCount> kQuotedKeys = [] {
    std::array<std::string, kFieldCount> keys;
    for (size_t i = 0; i < kFieldCount; ++i) keys[i] = common::concat('"', kFieldNames[i], '"');
    return keys;
  }();
  writer.StartObject();
  for (size_t i = 0; i < kFieldCount; ++i) {
    const std::optional<double>& value = performance.fields[i];
    if (!value) continue;
    writer.RawValue(kQuotedKeys[i].data(), kQuotedKeys[i].size(), rapidjson::kStringType);
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
