#include "training/performance_extractor.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "common/status.h"
#include "common/strings.h"
#include "re2/re2.h"

namespace tp::training {

// A regex and what its named groups mean. Configured patterns bind groups to the performance
// fields or to the lifecycle details; the built-in lifecycle lines use the lifecycle groups, and
// duration_s for the frameworks that print seconds.
struct Pattern {
  std::string name;     // the format reported
  std::string literal;  // must occur in the line before the regex runs; empty: always runs
  LineKind kind = LineKind::kPerformance;           // kNone: an `ignore` pattern
  std::shared_ptr<const re2::RE2> regex;            // shared by the copies withStored() makes
  std::vector<std::pair<int, Field>> fields;        // capture group index -> field
  std::vector<std::pair<int, std::string>> custom;  // capture group index -> custom field name
  int iteration = -1;  // capture group indexes of the lifecycle details; -1: none
  int path = -1;
  int duration_ms = -1;
  int duration_s = -1;
  int64_t stored_id = 0;  // stored patterns only
  std::string framework;
  bool shadow = false;
};

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
    // NeMo's progress printer (nemo/lightning/pytorch/callbacks/progress_printer.py)
    {"consumed_samples", Field::kConsumedSamples, 1},
    {"train_step_timing in s", Field::kElapsedTimePerIterationMs, 1000},
    {"lr", Field::kLearningRate, 1},
    {"global_batch_size", Field::kGlobalBatchSize, 1},
    {"reduced_train_loss", Field::kLmLoss, 1},
};

constexpr std::string_view kMemoryBlockKey = "mem usage/free/total/usage_ratio";
// NeMo counts the iteration of the header per epoch; the global step is the run's.
constexpr std::string_view kNemoStepKey = "global_step";

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

// A number printed with thousands separators, as TorchTitan prints "tps: 12,345".
std::optional<double> parseGroupedNumber(std::string_view text) {
  if (text.find(',') == std::string_view::npos) return parseNumber(text);
  char buffer[64];
  size_t size = 0;
  for (const char c : text) {
    if (c == ',') continue;
    if (size == sizeof(buffer)) return std::nullopt;
    buffer[size++] = c;
  }
  return parseNumber({buffer, size});
}

// An integer that fits int64, and nothing else.
std::optional<int64_t> parseInt64(std::string_view text) {
  text = common::trim(text);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// An iteration: an integer that fits int64, as a double (exact up to 2^53, far beyond the
// database column). Anything else is no iteration rather than a float.
std::optional<double> parseIteration(std::string_view text) {
  const std::optional<int64_t> value = parseInt64(text);
  if (!value) return std::nullopt;
  return static_cast<double>(*value);
}

// A duration printed in units of `unit_ms` milliseconds, as whole milliseconds; negative,
// non-finite or beyond int64 (a garbled line) is none.
std::optional<int64_t> parseDurationMs(std::string_view text, double unit_ms) {
  const std::optional<double> value = parseNumber(text);
  if (!value) return std::nullopt;
  const double ms = std::round(*value * unit_ms);
  if (!(ms >= 0 && ms < 9e18)) return std::nullopt;
  return static_cast<int64_t>(ms);
}

// string_view::find for a literal, its comparison of known length inlined: on every line, a
// memcmp call per occurrence of the first byte shows.
template <size_t N>
size_t findLiteral(std::string_view text, const char (&literal)[N], size_t from = 0) {
  constexpr size_t kSize = N - 1;
  static_assert(kSize > 0);
  if (text.size() < kSize || from > text.size() - kSize) return std::string_view::npos;
  const char* data = text.data();
  const char* last = data + text.size() - kSize;  // the last place a match can start
  for (const char* at = data + from; at <= last; ++at) {
    at = static_cast<const char*>(std::memchr(at, literal[0], last - at + 1));
    if (at == nullptr) break;
    if (std::memcmp(at + 1, literal + 1, kSize - 1) == 0) return at - data;
  }
  return std::string_view::npos;
}

bool isRegexSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isWordChar(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isAlnum(char c) { return isWordChar(c) && c != '_'; }

// Whether the text from `at` on is the whole message after the logger's prefix: before it there
// are only spaces, after the start or after what prefixes end with (']', ':', '>', '|', or the
// " - " of TorchTitan's "[titan] ... - INFO - "). The regex form is kStandsAlone.
bool standsAlone(std::string_view text, size_t at) {
  while (at > 0 && isRegexSpace(text[at - 1])) --at;
  if (at == 0) return true;
  const char c = text[at - 1];
  if (c == '-') return at > 1 && isRegexSpace(text[at - 2]);
  return c == ']' || c == ':' || c == '>' || c == '|';
}
constexpr std::string_view kStandsAlone = R"((?:^|[\]:>|]|\s-)\s*)";

// The number of the checkpoint directory a path names last: Megatron's iter_0001000,
// TorchTitan's step-1000, Lightning's step=1000, DeepSpeed's global_step1000.
std::optional<int64_t> iterationInPath(std::string_view path) {
  static constexpr std::string_view kMarkers[] = {"iter_", "step-", "step=", "global_step"};
  std::optional<int64_t> found;
  size_t found_at = 0;
  for (const std::string_view marker : kMarkers) {
    for (size_t at = path.find(marker); at != std::string_view::npos;
         at = path.find(marker, at + 1)) {
      // Inside a longer name ("substep-2") it is no marker.
      if ((at > 0 && isAlnum(path[at - 1])) || (found && at < found_at)) continue;
      const size_t digits = at + marker.size();
      size_t end = digits;
      while (end < path.size() && isDigit(path[end])) ++end;
      if (const std::optional<int64_t> number = parseInt64(path.substr(digits, end - digits))) {
        found = number;
        found_at = at;
      }
    }
  }
  return found;
}

// "iteration N/ M |" as the regular expression \biteration\s+(\d+)\s*/\s*(\d+)\s*\| finds it
// (RE2's \s, \d and \w), written out: the header is on every performance line, and the first
// match is unambiguous (each part stops where the next begins).
struct IterationHeader {
  std::string_view current;
  std::string_view target;
  size_t end = 0;  // just past the '|'
};

// The parts of "iteration N/ M |", in order, as a near miss names the first one a line lacks.
constexpr std::array<std::string_view, 6> kHeaderParts = {
    "the word 'iteration'",           "a space after 'iteration'",
    "the current iteration (digits)", "'/' after the current iteration",
    "the target iteration (digits)",  "'|' after the target iteration"};

// How far a line came into kHeaderParts (or kTorchtitanParts): at its best attempt, the parts it
// has in a row and where the next one was looked for.
struct FormatProgress {
  size_t parts = 0;
  size_t at = 0;
};

std::optional<IterationHeader> findIterationHeader(std::string_view text, size_t from,
                                                   FormatProgress* progress = nullptr) {
  static constexpr char kWord[] = "iteration";
  for (size_t at = findLiteral(text, kWord, from); at != std::string_view::npos;
       at = findLiteral(text, kWord, at + 1)) {
    if (at > 0 && isWordChar(text[at - 1])) continue;
    size_t i = at + sizeof(kWord) - 1;
    const auto skip = [&text, &i](bool (*part)(char)) {
      const size_t start = i;
      while (i < text.size() && part(text[i])) ++i;
      return i - start;
    };
    // Counts a part the line lacks: the attempt that got furthest is the one reported.
    const auto lacks = [progress, &i](size_t parts) {
      if (progress != nullptr && parts > progress->parts) *progress = {parts, i};
    };
    if (skip(isRegexSpace) == 0) {
      lacks(1);
      continue;
    }
    const size_t current = i;
    if (skip(isDigit) == 0) {
      lacks(2);
      continue;
    }
    const size_t current_end = i;
    skip(isRegexSpace);
    if (i == text.size() || text[i] != '/') {
      lacks(3);
      continue;
    }
    ++i;
    skip(isRegexSpace);
    const size_t target = i;
    if (skip(isDigit) == 0) {
      lacks(4);
      continue;
    }
    const size_t target_end = i;
    skip(isRegexSpace);
    if (i == text.size() || text[i] != '|') {
      lacks(5);
      continue;
    }
    lacks(kHeaderParts.size());
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

// Empties `performance` for the next line, keeping the capacity of its buffers.
void reset(Performance* performance, std::string_view format) {
  performance->fields.fill(std::nullopt);
  performance->custom.clear();
  performance->lifecycle.iteration.reset();
  performance->lifecycle.path.clear();
  performance->lifecycle.duration_ms.reset();
  performance->format = format;
}

// The segments after the "iteration N/ M |" header, "key: value |" each, looked up in a table.
// False with bad_iteration set when NeMo's global step is not an int64.
bool readIterationLine(std::string_view text, const IterationHeader& header, double current,
                       Performance* performance, bool& bad_iteration) {
  reset(performance, kMegatronFormat);
  (*performance)[Field::kCurrentIteration] = current;
  (*performance)[Field::kTargetIteration] = parseIteration(header.target);

  std::string_view rest = text.substr(header.end);
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
    if (key == kNemoStepKey) {
      const std::optional<double> step = parseIteration(value);
      if (!step) {
        bad_iteration = true;
        return false;
      }
      (*performance)[Field::kCurrentIteration] = step;
      performance->format = kNemoFormat;
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
  return true;
}

// TorchTitan's step line, "step: 10  loss:  7.87320  grad_norm:  1.2345  memory:
// 13.70GiB(7.14%)  tps: 2,635  tflops: 3.98  mfu: 0.31%" (torchtitan/components/metrics.py),
// and its older forms (wps for tps, no grad_norm or tflops, "peak_memory: 45.2%"): "key: value"
// pairs, "step" first and "loss" second, the message of its own ("validate step: ..." is not).
// The parts of a TorchTitan step line, in order, as a near miss names the first one it lacks
// (the last is the test classifyBuiltIn makes first).
constexpr std::array<std::string_view, 4> kTorchtitanParts = {
    "'step:' at the start of the message", "the step (an integer) after 'step:'",
    "'loss:' right after the step",
    "a '%' (TorchTitan prints mfu and the memory share in percent)"};

bool readTorchtitanLine(std::string_view text, Performance* performance, bool& bad_iteration,
                        FormatProgress* progress = nullptr) {
  constexpr std::string_view kStep = "step:";
  size_t at = text.find(kStep);
  while (at != std::string_view::npos && !standsAlone(text, at)) at = text.find(kStep, at + 1);
  if (at == std::string_view::npos) return false;
  const auto reached = [&](size_t parts, std::string_view rest) {
    if (progress != nullptr) *progress = {parts, static_cast<size_t>(rest.data() - text.data())};
  };
  std::string_view rest = text.substr(at);
  reached(1, rest.substr(kStep.size()));
  // The next "key: value": a key of word characters, then a value without spaces.
  const auto next = [&rest](std::string_view* key, std::string_view* value) {
    size_t i = 0;
    while (i < rest.size() && isRegexSpace(rest[i])) ++i;
    const size_t key_start = i;
    while (i < rest.size() && isWordChar(rest[i])) ++i;
    if (i == key_start || i == rest.size() || rest[i] != ':') return false;
    *key = rest.substr(key_start, i - key_start);
    ++i;
    while (i < rest.size() && isRegexSpace(rest[i])) ++i;
    const size_t value_start = i;
    while (i < rest.size() && !isRegexSpace(rest[i])) ++i;
    *value = rest.substr(value_start, i - value_start);
    rest.remove_prefix(i);
    return !value->empty();
  };
  std::string_view key, step, loss;
  if (!next(&key, &step)) return false;
  // The near miss's account: a step that is no integer is where the line went wrong.
  const bool counts = progress != nullptr && parseIteration(step);
  if (counts) reached(2, rest);
  if (!next(&key, &loss) || key != "loss") return false;
  if (counts) reached(3, rest);
  const std::optional<double> iteration = parseIteration(step);
  if (!iteration) {
    bad_iteration = true;
    return false;
  }
  reset(performance, kTorchtitanFormat);
  (*performance)[Field::kCurrentIteration] = iteration;
  (*performance)[Field::kLmLoss] = parseNumber(loss);
  std::string_view value;
  while (next(&key, &value)) {
    if (key == "grad_norm") {
      (*performance)[Field::kGradNorm] = parseNumber(value);
    } else if (key == "memory") {  // "13.70GiB(7.14%)": peak reserved, and its share of the device
      const size_t open = value.find('(');
      (*performance)[Field::kMemUsages] = parseNumber(value.substr(0, open));
      if (open != std::string_view::npos && value.ends_with(')')) {
        (*performance)[Field::kMemUsageRatio] =
            parseNumber(value.substr(open + 1, value.size() - open - 2));
      }
    } else if (key == "peak_memory") {
      (*performance)[Field::kMemUsageRatio] = parseNumber(value);
    } else if (key == "tps" || key == "wps") {  // tokens per second per device
      (*performance)[Field::kTokensPerGpu] = parseGroupedNumber(value);
    } else if (key == "tflops") {
      (*performance)[Field::kTflops] = parseGroupedNumber(value);
    } else if (key == "mfu") {  // "0.31%", or "N/A" when quantisation makes it meaningless
      (*performance)[Field::kMfu] = parseNumber(value);
    }
  }
  return true;
}

// print_datetime lines (Megatron) end in "] datetime: 2025-10-23 12:39:12[.123456]".
bool endsWithDatetime(std::string_view text) {
  static constexpr char kMarker[] = "] datetime: ";
  constexpr size_t kWindow = sizeof(kMarker) - 1 + 26;  // "2025-10-23 12:39:12.123456"
  return findLiteral(text, kMarker, text.size() > kWindow ? text.size() - kWindow : 0) !=
         std::string_view::npos;
}

// The built-in lifecycle lines, each the whole message after the logger's prefix (kStandsAlone
// is put in front of every regex), tried in this order within their gate. Sources: Megatron-LM
// megatron/training/{training,checkpointing}.py, Megatron-DeepSpeed megatron/{training,
// checkpointing}.py, TorchTitan torchtitan/{train,trainer}.py and components/checkpoint*,
// NeMo nemo/lightning/io/pl.py, nemo/utils/callbacks/nemo_model_checkpoint.py, Lightning's
// model_checkpoint.py, checkpoint_connector.py and fit_loop.py, Primus
// primus/core/runtime/train_runtime.py (docs/TRAINING.md quotes them).
enum Gate : size_t { kDotsGate, kCheckpointGate, kTrainingGate, kDatetimeGate };

struct BuiltInLine {
  Gate gate;
  LineKind kind;
  std::string_view format;
  std::string_view literal;
  std::string_view regex;
};

const std::vector<BuiltInLine>& builtInLines() {
  using K = LineKind;
  static const std::vector<BuiltInLine> kLines = {
      {kDotsGate, K::kStartTrain, kMegatronFormat, "", R"(training \.\.\.$)"},
      // Megatron-LM, Megatron-DeepSpeed and Primus's Megatron: the iteration is padded ({:7d}),
      // newer versions put "[2025-10-23 12:39:12.123456] " in front.
      {kCheckpointGate, K::kCheckpointSaveStart, kMegatronFormat, "saving checkpoint at iteration",
       R"(saving checkpoint at iteration\s+(?P<iteration>\d+) to (?P<path>\S+))"},
      {kCheckpointGate, K::kCheckpointSaveEnd, kMegatronFormat, "successfully saved",
       R"(successfully saved (?:local )?checkpoint (?:from|at) iteration\s+(?P<iteration>\d+))"
       R"((?: to (?P<path>\S+))?)"},
      {kCheckpointGate, K::kCheckpointLoadStart, kMegatronFormat, "checkpoint from",
       R"(loading (?:release )?(?:distributed )?checkpoint from (?P<path>\S+))"
       R"((?: at iteration (?P<iteration>\d+))?$)"},
      {kCheckpointGate, K::kCheckpointLoadEnd, kMegatronFormat,
       "successfully loaded checkpoint from",
       R"(successfully loaded checkpoint from (?P<path>\S+) (?:\[[^\]]*\] )?)"
       R"(at iteration (?P<iteration>\d+)$)"},
      // TorchTitan: saves name no step (the last step's "Saving a full checkpoint at last step,
      // step N." follows "Saving the checkpoint." and is not a second start).
      {kCheckpointGate, K::kCheckpointSaveStart, kTorchtitanFormat, "the checkpoint",
       R"((?:Saving|Staging) the checkpoint(?: \(or staging if async is enabled\))?\.$)"},
      {kCheckpointGate, K::kCheckpointSaveStart, kTorchtitanFormat, "checkpoint at step",
       R"(Saving (?:a full checkpoint|model weights only) at step (?P<iteration>\d+)$)"},
      {kCheckpointGate, K::kCheckpointSaveEnd, kTorchtitanFormat, "the checkpoint",
       R"(Finished (?:saving|staging) the checkpoint(?: \(or staging if async is enabled\))? ?)"
       R"(in (?P<duration_s>\d+(?:\.\d+)?) seconds\.?$)"},
      {kCheckpointGate, K::kCheckpointSaveEnd, kTorchtitanFormat, "Last step checkpoint completed",
       R"(Last step checkpoint completed in (?P<duration_s>\d+(?:\.\d+)?)s$)"},
      {kCheckpointGate, K::kCheckpointLoadStart, kTorchtitanFormat, "Loading the checkpoint",
       R"(Loading the checkpoint (?:from (?P<path>\S+?)|at step (?P<iteration>\d+))\.?$)"},
      {kCheckpointGate, K::kCheckpointLoadEnd, kTorchtitanFormat, "Finished loading the checkpoint",
       R"(Finished loading the checkpoint in (?P<duration_s>\d+(?:\.\d+)?) seconds\.?$)"},
      // NeMo and Lightning. An asynchronous save also prints "Scheduled async checkpoint save",
      // "Async checkpoint save for step N (...) finalized successfully." and "Successfully saved
      // checkpoint from iteration N", a load "Global Checkpoint Load : ...": second lines for
      // the same operation, not recognised.
      {kCheckpointGate, K::kCheckpointSaveStart, kNemoFormat, "Checkpoint save for step",
       R"(Checkpoint save for step (?P<iteration>\d+) started at \d+(?:\.\d+)?\.$)"},
      {kCheckpointGate, K::kCheckpointSaveStart, kNemoFormat, "saving model to",
       R"(Epoch \d+, global step (?P<iteration>\d+): .*, saving model to '(?P<path>[^']+)' )"
       R"(as top \d+$)"},
      {kCheckpointGate, K::kCheckpointSaveEnd, kNemoFormat, "Global Checkpoint Save",
       R"(Global Checkpoint Save : Rank: \d+ : (?:Iteration: (?P<iteration>\d+) : )?)"
       R"(Start time: \d+(?:\.\d+)?s : Save duration: (?P<duration_s>\d+(?:\.\d+)?)s$)"},
      {kCheckpointGate, K::kCheckpointLoadStart, kNemoFormat,
       "Restoring states from the checkpoint",
       R"(Restoring states from the checkpoint (?:path |file )?at (?P<path>.+)$)"},
      {kCheckpointGate, K::kCheckpointLoadEnd, kNemoFormat,
       "Restored all states from the checkpoint",
       R"(Restored all states from the checkpoint (?:file )?at (?P<path>.+)$)"},
      {kTrainingGate, K::kStartTrain, kTorchtitanFormat, "Training starts at step",
       R"(Training starts at step (?P<iteration>\d+)(?:[.,].*)?$)"},
      {kTrainingGate, K::kStartTrain, kPrimusFormat, "Training started.", R"(Training started\.$)"},
      {kTrainingGate, K::kEndTrain, kTorchtitanFormat, "Training completed",
       R"(Training completed$)"},
      {kTrainingGate, K::kEndTrain, kPrimusFormat, "Training completed.",
       R"(Training completed\.$)"},
      {kTrainingGate, K::kEndTrain, kNemoFormat, "`Trainer.fit` stopped: ",
       R"(`Trainer\.fit` stopped: (?:`max_steps=(?P<iteration>\d+)` reached\.$|.))"},
      // Megatron's print_datetime: "[after training is done] datetime: 2025-10-23 18:00:00"; an
      // exit condition prints "[exiting program ...]" instead.
      {kDatetimeGate, K::kStartTrain, kMegatronFormat, "[before the start of training step]",
       R"(\[before the start of training step\] )"
       R"(datetime: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?$)"},
      {kDatetimeGate, K::kEndTrain, kMegatronFormat, "[after training is done]",
       R"(\[after training is done\] datetime: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?$)"},
      {kDatetimeGate, K::kEndTrain, kMegatronFormat, "[exiting program ",
       R"(\[exiting program (?:at iteration (?P<iteration>\d+)|[^\]]*)\] )"
       R"(datetime: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?$)"},
  };
  return kLines;
}

// The capture group `name` of `regex`, -1 when it has none.
int groupIndex(const re2::RE2& regex, const std::string& name) {
  const auto& groups = regex.NamedCapturingGroups();
  const auto found = groups.find(name);
  return found == groups.end() ? -1 : found->second;
}

LineKind kindOf(config::PatternType type) {
  switch (type) {
    case config::PatternType::kPerformance:
      return LineKind::kPerformance;
    case config::PatternType::kStart:
      return LineKind::kStartTrain;
    case config::PatternType::kEnd:
      return LineKind::kEndTrain;
    case config::PatternType::kCheckpointSaveStart:
      return LineKind::kCheckpointSaveStart;
    case config::PatternType::kCheckpointSaveEnd:
      return LineKind::kCheckpointSaveEnd;
    case config::PatternType::kCheckpointLoadStart:
      return LineKind::kCheckpointLoadStart;
    case config::PatternType::kCheckpointLoadEnd:
      return LineKind::kCheckpointLoadEnd;
    case config::PatternType::kIgnore:
      return LineKind::kNone;
  }
  return LineKind::kNone;
}

bool isCustomFieldName(std::string_view name) {
  if (name.empty() || isDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isDigit(c) || (c >= 'a' && c <= 'z') || c == '_'; });
}

// The group as this extractor names it: Lens's patterns spell the fields in CamelCase
// (CurrentIteration, ElapsedTimePerIterationMS, TFLOPS, TokensPerGPU, Path, DurationMs), which
// matches our name without its underscores, case aside; Lens's MemUsage is mem_usages. Other
// names stay as they are.
std::string translateGroup(const std::string& group) {
  if (std::none_of(group.begin(), group.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return group;
  }
  std::string folded;
  for (const char c : group) {
    if (c != '_') folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (folded == "memusage") return "mem_usages";
  const auto unfolded = [&folded](std::string_view name) {
    std::string without;
    for (const char c : name) {
      if (c != '_') without += c;
    }
    return without == folded;
  };
  for (const std::string_view name : kFieldNames) {
    if (unfolded(name)) return std::string(name);
  }
  for (const std::string_view name : {"iteration", "path", "duration_ms"}) {
    if (unfolded(name)) return std::string(name);
  }
  return group;
}

// Binds the named groups of a configured pattern, or says which one its type does not take.
// `lens_names`: Lens's spelling of the groups is accepted too.
absl::Status bindGroups(const config::TrainingPattern& configured, bool lens_names,
                        Pattern* pattern) {
  const std::string_view type = config::nameOf(config::kPatternTypeNames, configured.type);
  for (const auto& [named, index] : pattern->regex->NamedCapturingGroups()) {
    const std::string group = lens_names ? translateGroup(named) : named;
    if (pattern->kind == LineKind::kNone) {
      return absl::InvalidArgumentError(
          common::concat("group '", named, "': ignore patterns take no named groups"));
    }
    if (pattern->kind != LineKind::kPerformance) {
      if (group == "iteration") {
        pattern->iteration = index;
      } else if (group == "path") {
        pattern->path = index;
      } else if (group == "duration_ms") {
        pattern->duration_ms = index;
      } else {
        return absl::InvalidArgumentError(
            common::concat("group '", named, "' is not one of the groups ", type,
                           " patterns take: iteration, path, duration_ms"));
      }
      continue;
    }
    const auto known = std::find(kFieldNames.begin(), kFieldNames.end(), group);
    if (known != kFieldNames.end()) {
      pattern->fields.emplace_back(index, static_cast<Field>(known - kFieldNames.begin()));
    } else if (isCustomFieldName(group)) {
      pattern->custom.emplace_back(index, group);
    } else {
      return absl::InvalidArgumentError(
          common::concat("group '", named,
                         "' is neither a performance field nor a custom field name (lower-case "
                         "letters, digits and '_', not starting with a digit)"));
    }
  }
  // NamedCapturingGroups() is sorted by name; custom fields are written in the regex's order.
  std::sort(pattern->custom.begin(), pattern->custom.end());
  const bool has_iteration =
      std::any_of(pattern->fields.begin(), pattern->fields.end(),
                  [](const auto& bound) { return bound.second == Field::kCurrentIteration; });
  if (pattern->kind == LineKind::kPerformance && !has_iteration) {
    return absl::InvalidArgumentError("no group named current_iteration");
  }
  return absl::OkStatus();
}

// Matches one pattern against the (stripped, trimmed) line and fills `performance`. False when
// it does not match, or when its iteration is not an int64 (then bad_iteration is set).
bool matchPattern(const Pattern& pattern, std::string_view text, Performance* performance,
                  bool& bad_iteration) {
  if (!pattern.literal.empty() && text.find(pattern.literal) == std::string_view::npos) {
    return false;
  }
  constexpr int kMaxGroups = 64;
  re2::StringPiece groups[kMaxGroups];
  const re2::StringPiece input(text.data(), text.size());
  const int count = std::min(kMaxGroups, pattern.regex->NumberOfCapturingGroups() + 1);
  if (!pattern.regex->Match(input, 0, input.size(), re2::RE2::UNANCHORED, groups, count)) {
    return false;
  }
  const auto group = [&groups, count](int index) -> std::optional<std::string_view> {
    if (index < 0 || index >= count || groups[index].data() == nullptr) return std::nullopt;
    return std::string_view(groups[index].data(), groups[index].size());
  };
  reset(performance, pattern.name);
  if (pattern.kind == LineKind::kNone) return true;
  if (pattern.kind == LineKind::kPerformance) {
    for (const auto& [index, field] : pattern.fields) {
      const std::optional<std::string_view> value = group(index);
      if (!value) continue;
      if (field == Field::kCurrentIteration) {
        (*performance)[field] = parseIteration(*value);
        bad_iteration = bad_iteration || !(*performance)[field];
      } else {
        (*performance)[field] = parseNumber(*value);
      }
    }
    for (const auto& [index, name] : pattern.custom) {
      const std::optional<std::string_view> value = group(index);
      const std::optional<double> number = value ? parseNumber(*value) : std::nullopt;
      if (number) performance->custom.push_back({name, *number});
    }
    return (*performance)[Field::kCurrentIteration].has_value();
  }
  LifecycleDetails& details = performance->lifecycle;
  if (const std::optional<std::string_view> iteration = group(pattern.iteration)) {
    details.iteration = parseInt64(*iteration);
    if (!details.iteration) {
      bad_iteration = true;
      return false;
    }
  }
  if (const std::optional<std::string_view> path = group(pattern.path)) details.path = *path;
  if (const std::optional<std::string_view> ms = group(pattern.duration_ms)) {
    details.duration_ms = parseDurationMs(*ms, 1);
  } else if (const std::optional<std::string_view> seconds = group(pattern.duration_s)) {
    details.duration_ms = parseDurationMs(*seconds, 1000);
  }
  if (!details.iteration && !details.path.empty())
    details.iteration = iterationInPath(details.path);
  return true;
}

absl::StatusOr<Pattern> compilePattern(const config::TrainingPattern& configured, bool lens_names) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  Pattern pattern{configured.name, configured.prefilter, kindOf(configured.type)};
  pattern.regex = std::make_shared<re2::RE2>(configured.regex, options);
  if (!pattern.regex->ok()) return absl::InvalidArgumentError(pattern.regex->error());
  TP_RETURN_IF_ERROR(bindGroups(configured, lens_names, &pattern));
  return pattern;
}

// The named groups a match sets, in the regex's order, for the dry run.
std::vector<std::pair<std::string, std::string>> namedGroups(const Pattern& pattern,
                                                             std::string_view text) {
  const int count = pattern.regex->NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(static_cast<size_t>(count));
  const re2::StringPiece input(text.data(), text.size());
  std::vector<std::pair<std::string, std::string>> named;
  if (!pattern.regex->Match(input, 0, input.size(), re2::RE2::UNANCHORED, groups.data(), count)) {
    return named;
  }
  for (const auto& [index, name] : pattern.regex->CapturingGroupNames()) {
    if (groups[static_cast<size_t>(index)].data() == nullptr) continue;
    named.emplace_back(name, std::string(groups[static_cast<size_t>(index)].data(),
                                         groups[static_cast<size_t>(index)].size()));
  }
  return named;
}

}  // namespace

std::string_view lineKindName(LineKind kind) {
  switch (kind) {
    case LineKind::kNone:
      return "none";
    case LineKind::kStartTrain:
      return config::nameOf(config::kPatternTypeNames, config::PatternType::kStart);
    case LineKind::kPerformance:
      return config::nameOf(config::kPatternTypeNames, config::PatternType::kPerformance);
    case LineKind::kEndTrain:
      return config::nameOf(config::kPatternTypeNames, config::PatternType::kEnd);
    case LineKind::kCheckpointSaveStart:
      return config::nameOf(config::kPatternTypeNames, config::PatternType::kCheckpointSaveStart);
    case LineKind::kCheckpointSaveEnd:
      return config::nameOf(config::kPatternTypeNames, config::PatternType::kCheckpointSaveEnd);
    case LineKind::kCheckpointLoadStart:
      return config::nameOf(config::kPatternTypeNames, config::PatternType::kCheckpointLoadStart);
    case LineKind::kCheckpointLoadEnd:
      return config::nameOf(config::kPatternTypeNames, config::PatternType::kCheckpointLoadEnd);
  }
  return "none";
}

std::string_view rankOf(std::string_view message) {
  // Prefixes are short: looking no further keeps a rank named in the message text out.
  constexpr size_t kPrefixBytes = 256;
  const std::string_view head = message.substr(0, kPrefixBytes);
  const auto digits_at = [&head](size_t at) {
    size_t end = at;
    while (end < head.size() && isDigit(head[end])) ++end;
    return head.substr(at, end - at);
  };
  // Primus's loguru prefix, "[rank-63/64]" (colour codes may sit inside the brackets).
  constexpr std::string_view kPrimus = "rank-";
  for (size_t at = head.find(kPrimus); at != std::string_view::npos;
       at = head.find(kPrimus, at + 1)) {
    const std::string_view rank = digits_at(at + kPrimus.size());
    const size_t after = at + kPrimus.size() + rank.size();
    if (!rank.empty() && after + 1 < head.size() && head[after] == '/' &&
        isDigit(head[after + 1])) {
      return rank;
    }
  }
  // DeepSpeed's log_dist and Megatron's report_memory, "[Rank 3] ...".
  constexpr std::string_view kRank = "[Rank ";
  if (const size_t at = head.find(kRank); at != std::string_view::npos) {
    const std::string_view rank = digits_at(at + kRank.size());
    const size_t after = at + kRank.size() + rank.size();
    if (!rank.empty() && after < head.size() && head[after] == ']') return rank;
  }
  // torchrun's --tee prefix "[<role><local rank>]:" (default3, rank3), also PyTorch's "[rank3]:".
  if (head.starts_with('[')) {
    size_t i = 1;
    while (i < head.size() && ((head[i] >= 'a' && head[i] <= 'z') || head[i] == '_')) ++i;
    const std::string_view rank = digits_at(i);
    const size_t after = i + rank.size();
    if (i > 1 && !rank.empty() && head.substr(after).starts_with("]:")) return rank;
  }
  return {};
}

PerformanceExtractor::PerformanceExtractor() {
  static_assert(kDatetimeGate + 1 == kGateCount);
  re2::RE2::Options options;
  options.set_log_errors(false);
  for (const BuiltInLine& line : builtInLines()) {
    Pattern pattern{std::string(line.format), std::string(line.literal), line.kind};
    pattern.regex = std::make_shared<re2::RE2>(common::concat(kStandsAlone, line.regex), options);
    pattern.iteration = groupIndex(*pattern.regex, "iteration");
    pattern.path = groupIndex(*pattern.regex, "path");
    pattern.duration_s = groupIndex(*pattern.regex, "duration_s");
    built_in_[line.gate].push_back(std::move(pattern));
  }
}

PerformanceExtractor::~PerformanceExtractor() = default;

absl::StatusOr<std::unique_ptr<PerformanceExtractor>> PerformanceExtractor::create(
    const std::vector<config::TrainingPattern>& patterns) {
  auto extractor = std::make_unique<PerformanceExtractor>();
  for (const config::TrainingPattern& configured : patterns) {
    absl::StatusOr<Pattern> pattern = compilePattern(configured, false);
    if (!pattern.ok()) {
      return absl::InvalidArgumentError(
          common::concat("config: invalid training.patterns: pattern '", configured.name,
                         "': ", common::message(pattern.status())));
    }
    extractor->configured_.push_back(*std::move(pattern));
  }
  return extractor;
}

absl::StatusOr<std::shared_ptr<const Pattern>> PerformanceExtractor::compileStored(
    const StoredPattern& stored) {
  absl::StatusOr<Pattern> pattern = compilePattern(stored.pattern, true);
  if (!pattern.ok()) return pattern.status();
  pattern->stored_id = stored.id;
  pattern->framework = stored.framework;
  pattern->shadow = stored.shadow;
  return std::make_shared<const Pattern>(*std::move(pattern));
}

bool PerformanceExtractor::matches(const Pattern& pattern, std::string_view line) {
  std::string clean_buffer;
  Performance performance;
  bool bad_iteration = false;
  return matchPattern(pattern, common::trim(stripAnsi(line, clean_buffer)), &performance,
                      bad_iteration);
}

std::shared_ptr<const PerformanceExtractor> PerformanceExtractor::withStored(
    std::vector<std::shared_ptr<const Pattern>> stored) const {
  auto copy = std::make_shared<PerformanceExtractor>(*this);
  copy->stored_ = std::move(stored);
  return copy;
}

int64_t storedIdOf(const Pattern& pattern) { return pattern.stored_id; }
bool isShadow(const Pattern& pattern) { return pattern.shadow; }
LineKind patternKind(const Pattern& pattern) { return pattern.kind; }

std::string_view patternOriginName(PatternOrigin origin) {
  switch (origin) {
    case PatternOrigin::kConfigured:
      return "configured";
    case PatternOrigin::kStored:
      return "database";
    case PatternOrigin::kBuiltIn:
      return "built-in";
  }
  return "built-in";
}

std::vector<PatternInfo> PerformanceExtractor::describe() const {
  std::vector<PatternInfo> patterns;
  const auto add = [&patterns](const Pattern& pattern, PatternOrigin origin) {
    patterns.push_back({.origin = origin,
                        .name = pattern.name,
                        .id = pattern.stored_id,
                        .regex = pattern.regex->pattern(),
                        .framework = pattern.framework,
                        .kind = pattern.kind,
                        .shadow = pattern.shadow});
  };
  for (const Pattern& pattern : configured_) add(pattern, PatternOrigin::kConfigured);
  for (const auto& pattern : stored_) add(*pattern, PatternOrigin::kStored);
  for (std::string_view format : {kPrimusHipFormat, kPrimusRocmFormat, kPrimusLegacyFormat,
                                  kMegatronFormat, kNemoFormat, kTorchtitanFormat}) {
    patterns.push_back({.name = format, .framework = format, .kind = LineKind::kPerformance});
  }
  for (const auto& gate : built_in_) {
    for (const Pattern& pattern : gate) add(pattern, PatternOrigin::kBuiltIn);
  }
  return patterns;
}

std::vector<std::string_view> PerformanceExtractor::formatNames() const {
  std::vector<std::string_view> names;
  for (const Pattern& pattern : configured_) names.push_back(pattern.name);
  names.insert(names.end(), kBuiltInFormats.begin(), kBuiltInFormats.end());
  return names;
}

LineKind PerformanceExtractor::extract(std::string_view message, Performance* performance,
                                       bool* bad_iteration, std::span<uint64_t> stored_hits) const {
  bool bad = false;
  const LineKind kind = classify(message, performance, bad, stored_hits);
  if (bad_iteration != nullptr) *bad_iteration = bad && kind == LineKind::kNone;
  return kind;
}

LineKind PerformanceExtractor::matchGate(size_t gate, std::string_view text,
                                         Performance* performance, bool& bad_iteration) const {
  for (const Pattern& pattern : built_in_[gate]) {
    if (matchPattern(pattern, text, performance, bad_iteration)) return pattern.kind;
  }
  return LineKind::kNone;
}

LineKind PerformanceExtractor::classify(std::string_view message, Performance* performance,
                                        bool& bad_iteration,
                                        std::span<uint64_t> stored_hits) const {
  thread_local std::string clean_buffer;
  const std::string_view text = common::trim(stripAnsi(message, clean_buffer));

  for (const Pattern& pattern : configured_) {
    if (!matchPattern(pattern, text, performance, bad_iteration)) continue;
    if (pattern.kind == LineKind::kNone) bad_iteration = false;  // ignored, not a near miss
    return pattern.kind;
  }
  for (size_t i = 0; i < stored_.size(); ++i) {
    const Pattern& pattern = *stored_[i];
    // A shadow pattern's near miss is no near miss of the line.
    bool shadow_bad = false;
    if (!matchPattern(pattern, text, performance, pattern.shadow ? shadow_bad : bad_iteration)) {
      continue;
    }
    if (i < stored_hits.size()) ++stored_hits[i];
    if (pattern.shadow) continue;
    if (pattern.kind == LineKind::kNone) bad_iteration = false;
    return pattern.kind;
  }
  return classifyBuiltIn(text, performance, bad_iteration);
}

LineKind PerformanceExtractor::classifyBuiltIn(std::string_view text, Performance* performance,
                                               bool& bad_iteration) const {
  // "training ..." as the whole message after the logger's prefix; not inside a longer word or
  // an argument dump ("..._during_training ........ False").
  if (text.ends_with("training ...")) return matchGate(kDotsGate, text, performance, bad_iteration);

  // Performance lines have both; '|' is rare elsewhere, "iteration"'s 'i' is not: tested first,
  // it spares most lines the search for the word.
  const size_t iteration = text.find('|') == std::string_view::npos
                               ? std::string_view::npos
                               : findLiteral(text, "iteration");
  if (iteration != std::string_view::npos) {
    if (const std::optional<IterationHeader> header = findIterationHeader(text, iteration)) {
      const std::optional<double> current = parseIteration(header->current);
      if (!current) {
        bad_iteration = true;
        return LineKind::kNone;
      }
      return readIterationLine(text, *header, *current, performance, bad_iteration)
                 ? LineKind::kPerformance
                 : LineKind::kNone;
    }
  }
  // Each a single memchr-paced scan: TorchTitan's step line has a '%' (mfu, memory share), every
  // checkpoint line "checkpoint" or ".ckpt", the other start and end lines "Train".
  if (text.find('%') != std::string_view::npos &&
      readTorchtitanLine(text, performance, bad_iteration)) {
    return LineKind::kPerformance;
  }
  LineKind kind = LineKind::kNone;
  if (findLiteral(text, "kp") != std::string_view::npos) {
    kind = matchGate(kCheckpointGate, text, performance, bad_iteration);
  }
  if (kind == LineKind::kNone && findLiteral(text, "Train") != std::string_view::npos) {
    kind = matchGate(kTrainingGate, text, performance, bad_iteration);
  }
  if (kind == LineKind::kNone && endsWithDatetime(text)) {
    kind = matchGate(kDatetimeGate, text, performance, bad_iteration);
  }
  return kind;
}

Explanation PerformanceExtractor::explain(std::string_view message) const {
  Explanation explanation;
  std::string clean_buffer;
  explanation.cleaned = std::string(common::trim(stripAnsi(message, clean_buffer)));
  const std::string_view text = explanation.cleaned;
  const auto add = [&](const Pattern& pattern, PatternOrigin origin) {
    PatternMatch match{.origin = origin,
                       .name = pattern.name,
                       .id = pattern.stored_id,
                       .regex = pattern.regex->pattern(),
                       .framework = pattern.framework,
                       .kind = pattern.kind,
                       .shadow = pattern.shadow};
    bool bad_iteration = false;
    if (!matchPattern(pattern, text, &match.performance, bad_iteration)) return;
    match.groups = namedGroups(pattern, text);
    if (!explanation.winner && !match.shadow) explanation.winner = explanation.matches.size();
    explanation.matches.push_back(std::move(match));
  };
  for (const Pattern& pattern : configured_) add(pattern, PatternOrigin::kConfigured);
  for (const auto& pattern : stored_) add(*pattern, PatternOrigin::kStored);
  PatternMatch built_in{.origin = PatternOrigin::kBuiltIn};
  bool bad_iteration = false;
  built_in.kind = classifyBuiltIn(text, &built_in.performance, bad_iteration);
  if (built_in.kind != LineKind::kNone) {
    built_in.name = built_in.performance.format;
    built_in.framework = built_in.performance.format;
    for (const auto& gate : built_in_) {
      for (const Pattern& pattern : gate) {
        if (pattern.name != built_in.name || pattern.kind != built_in.kind) continue;
        if (!matchPattern(pattern, text, &built_in.performance, bad_iteration)) continue;
        built_in.regex = pattern.regex->pattern();
        built_in.groups = namedGroups(pattern, text);
        break;
      }
      if (!built_in.regex.empty()) break;
    }
    if (!explanation.winner) explanation.winner = explanation.matches.size();
    explanation.matches.push_back(std::move(built_in));
  }
  return explanation;
}

namespace {

// The words (two letters or more) of a regex outside named groups' names, escapes and
// character classes, lower case, each once.
std::vector<std::string> regexWords(std::string_view regex) {
  std::vector<std::string> words;
  std::string word;
  const auto flush = [&] {
    if (word.size() >= 2 && std::find(words.begin(), words.end(), word) == words.end()) {
      words.push_back(word);
    }
    word.clear();
  };
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  // Where what starts at `i` ends (its last byte), when it is no text of the line: a character
  // class, a repetition count, a group's name or a group's flags. npos: it is text.
  const auto skipped = [&regex, &letter](size_t i) -> size_t {
    const std::string_view rest = regex.substr(i);
    if (rest.starts_with('[')) {
      size_t j = i + 1;
      if (j < regex.size() && regex[j] == '^') ++j;
      if (j < regex.size() && regex[j] == ']') ++j;  // a ']' first is a member
      for (; j < regex.size() && regex[j] != ']'; ++j) {
        if (regex[j] == '\\') ++j;
      }
      return std::min(j, regex.size() - 1);
    }
    if (rest.starts_with('{')) {
      const size_t close = rest.find_first_not_of("0123456789,", 1);
      return close != std::string_view::npos && close > 1 && rest[close] == '}'
                 ? i + close
                 : std::string_view::npos;
    }
    if (rest.starts_with("(?P<") || rest.starts_with("(?<")) {
      const size_t close = regex.find('>', i);
      return close == std::string_view::npos ? regex.size() - 1 : close;
    }
    if (rest.starts_with("(?")) {
      size_t j = i + 2;
      while (j < regex.size() && (letter(regex[j]) || regex[j] == '-')) ++j;
      return j - 1;  // the flags, up to the ':' or ')' that ends them
    }
    return std::string_view::npos;
  };
  for (size_t i = 0; i < regex.size(); ++i) {
    const char c = regex[i];
    if (c == '\\') {
      flush();
      ++i;  // \d, \s, \b, or an escaped punctuation mark: no letter of the line
    } else if (const size_t end = skipped(i); end != std::string_view::npos) {
      flush();
      i = end;
    } else if (letter(c)) {
      word.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    } else {
      flush();
    }
  }
  flush();
  return words;
}

// Whether `word` is in `text` (both lower case) as a whole word: letters on neither side.
bool hasWord(std::string_view text, std::string_view word) {
  const auto letter = [](char c) { return c >= 'a' && c <= 'z'; };
  for (size_t at = text.find(word); at != std::string_view::npos; at = text.find(word, at + 1)) {
    const size_t end = at + word.size();
    if ((at == 0 || !letter(text[at - 1])) && (end == text.size() || !letter(text[end]))) {
      return true;
    }
  }
  return false;
}

// Up to `size` bytes of `text` from `at`, not cutting a UTF-8 character in two.
std::string_view excerpt(std::string_view text, size_t at, size_t size) {
  size_t end = std::min(text.size(), at + size);
  while (end > at && end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return text.substr(at, end - at);
}

FormatCandidate builtInCandidate(std::string_view name, std::span<const std::string_view> parts,
                                 const FormatProgress& progress, std::string_view text) {
  FormatCandidate candidate{.name = name, .parts_found = progress.parts, .parts = parts.size()};
  if (progress.parts < parts.size()) {
    candidate.missing = std::string(parts[progress.parts]);
    constexpr size_t kExcerpt = 32;
    if (progress.parts > 0) candidate.at = std::string(excerpt(text, progress.at, kExcerpt));
  }
  return candidate;
}

}  // namespace

std::vector<FormatCandidate> PerformanceExtractor::nearestFormats(std::string_view message) const {
  std::string clean_buffer;
  std::string text(common::trim(stripAnsi(message, clean_buffer)));
  lowerInto(text, text.data(), text.size());
  std::vector<FormatCandidate> candidates;
  const auto add_pattern = [&](const Pattern& pattern, PatternOrigin origin) {
    if (pattern.kind != LineKind::kPerformance) return;
    FormatCandidate candidate{
        .origin = origin, .name = pattern.name, .id = pattern.stored_id, .shadow = pattern.shadow};
    for (const std::string& word : regexWords(pattern.regex->pattern())) {
      ++candidate.parts;
      if (hasWord(text, word)) {
        ++candidate.parts_found;
      } else {
        candidate.missing += common::concat(candidate.missing.empty() ? "'" : ", '", word, "'");
      }
    }
    if (candidate.parts_found == candidate.parts) {
      candidate.missing =
          "every word of the pattern is in the line: its numbers or punctuation differ";
    }
    candidates.push_back(std::move(candidate));
  };
  for (const Pattern& pattern : configured_) add_pattern(pattern, PatternOrigin::kConfigured);
  for (const auto& pattern : stored_) add_pattern(*pattern, PatternOrigin::kStored);

  // The built-in readers on the cleaned line as it is (their words are lower case already).
  const std::string_view original = common::trim(stripAnsi(message, clean_buffer));
  FormatProgress header;
  findIterationHeader(original, 0, &header);
  candidates.push_back(builtInCandidate(kMegatronFormat, kHeaderParts, header, original));
  FormatProgress step;
  Performance scratch;
  bool bad_iteration = false;
  readTorchtitanLine(original, &scratch, bad_iteration, &step);
  if (step.parts == kTorchtitanParts.size() - 1 && original.find('%') != std::string_view::npos) {
    step.parts = kTorchtitanParts.size();
  }
  candidates.push_back(builtInCandidate(kTorchtitanFormat, kTorchtitanParts, step, original));

  // A pattern can have every word and still not match (its numbers); a built-in format cannot.
  std::erase_if(candidates, [](const FormatCandidate& candidate) {
    return candidate.parts_found == 0 || (candidate.origin == PatternOrigin::kBuiltIn &&
                                          candidate.parts_found == candidate.parts);
  });
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return a.parts_found * b.parts > b.parts_found * a.parts;
  });
  constexpr size_t kMostCandidates = 3;
  if (candidates.size() > kMostCandidates) candidates.resize(kMostCandidates);
  return candidates;
}

void writePerformanceJson(common::JsonWriter& writer, const Performance& performance) {
  // The keys need no escaping: written as they stand, quoted once.
  static const std::array<std::string, kFieldCount> kQuotedKeys = [] {
    std::array<std::string, kFieldCount> keys;
    for (size_t i = 0; i < kFieldCount; ++i) keys[i] = common::concat('"', kFieldNames[i], '"');
    return keys;
  }();
  const auto number = [&writer](double value, bool integral) {
    if (std::isnan(value)) {
      writer.String("NaN");
    } else if (std::isinf(value)) {
      writer.String(value > 0 ? "+Inf" : "-Inf");
    } else if (integral && value == std::floor(value) && std::fabs(value) < 9e15) {
      writer.Int64(static_cast<int64_t>(value));
    } else {
      writer.Double(value);
    }
  };
  writer.StartObject();
  for (size_t i = 0; i < kFieldCount; ++i) {
    const std::optional<double>& value = performance.fields[i];
    if (!value) continue;
    writer.RawValue(kQuotedKeys[i].data(), kQuotedKeys[i].size(), rapidjson::kStringType);
    number(*value, std::find(std::begin(kIntegralFields), std::end(kIntegralFields),
                             static_cast<Field>(i)) != std::end(kIntegralFields));
  }
  // Custom names are [a-z_][a-z0-9_]*: no escaping either.
  for (const CustomField& field : performance.custom) {
    writer.Key(field.name.data(), static_cast<rapidjson::SizeType>(field.name.size()));
    number(field.value, false);
  }
  writer.EndObject();
}

void writeLifecycleFields(common::JsonWriter& writer, const LifecycleDetails& details) {
  if (details.iteration) {
    writer.Key("iteration");
    writer.Int64(*details.iteration);
  }
  if (!details.path.empty()) {
    writer.Key("path");
    common::writeString(writer, details.path);
  }
  if (details.duration_ms) {
    writer.Key("duration_ms");
    writer.Int64(*details.duration_ms);
  }
}

}  // namespace tp::training
