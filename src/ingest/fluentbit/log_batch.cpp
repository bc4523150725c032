#include "ingest/fluentbit/log_batch.h"

#include <malloc.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/status/statusor.h"
#include "common/status.h"
#include "common/strings.h"

namespace tp::ingest {
namespace {

namespace od = simdjson::ondemand;

static_assert(kLogBatchPadding >= simdjson::SIMDJSON_PADDING);

// Where a problem was found, for the 400 message.
struct Position {
  std::string_view text;  // the array, or one line of json_lines
  size_t line = 0;        // json_lines: 1-based line number; 0 for an array
};

absl::Status invalid(Position position, std::optional<size_t> offset, std::string_view problem) {
  std::string where;
  if (offset) where = common::concat(" at byte ", *offset);
  if (position.line != 0) where = common::concat(" on line ", position.line, where);
  return absl::InvalidArgumentError(common::concat("invalid JSON", where, ": ", problem));
}

absl::Status invalidAt(Position position, od::document& document, std::string_view problem) {
  const char* location = nullptr;
  if (document.current_location().get(location) || location == nullptr) {
    return invalid(position, std::nullopt, problem);
  }
  return invalid(position, static_cast<size_t>(location - position.text.data()), problem);
}

// simdjson reports a text cut short at its start (brackets left open) or nowhere (a string left
// open); the byte where it ended tells the sender how much arrived.
bool cutShort(simdjson::error_code code) {
  return code == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || code == simdjson::UNCLOSED_STRING;
}

// An error of iterate(), before there is a document to locate it in.
absl::Status syntaxError(Position position, simdjson::error_code code) {
  const std::optional<size_t> end =
      cutShort(code) ? std::optional(position.text.size()) : std::nullopt;
  return invalid(position, end, simdjson::error_message(code));
}

absl::Status syntaxError(Position position, od::document& document, simdjson::error_code code) {
  if (cutShort(code)) return syntaxError(position, code);
  return invalidAt(position, document, simdjson::error_message(code));
}

absl::Status jsonError(simdjson::error_code error) {
  return absl::InvalidArgumentError(simdjson::error_message(error));
}

// iterate() has validated every string (UTF-8, no raw control characters, closed), so one
// without a backslash reads as its bytes in the body: views to them spare the copies into the
// parser's string buffer that unescaping makes, for most keys and messages.

// A field's key, in place unless it has an escape.
simdjson::error_code readKey(od::field& field, std::string_view* key) {
  const char* begin = field.key().raw();  // just after the opening quote
  const char* end = begin;
  while (*end != '"' && *end != '\\') ++end;
  if (*end == '"') {
    *key = std::string_view(begin, static_cast<size_t>(end - begin));
    return simdjson::SUCCESS;
  }
  return field.unescaped_key().get(*key);
}

// A string value's text, in place unless it has an escape.
simdjson::error_code readStringValue(od::value& value, std::string_view* text) {
  std::string_view token = value.raw_json_token();
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                            token.back() == '\r')) {
    token.remove_suffix(1);
  }
  if (token.size() >= 2 && token.front() == '"' && token.back() == '"' &&
      token.find('\\') == std::string_view::npos) {
    *text = token.substr(1, token.size() - 2);
    return simdjson::SUCCESS;
  }
  return value.get_string().get(*text);
}

// Calls visit(key, value) for each field of `object`; stops at the first error.
template <typename Visit>
absl::Status forEachField(od::object& object, Visit visit) {
  for (auto field_result : object) {
    od::field field;
    if (auto error = std::move(field_result).get(field)) return jsonError(error);
    std::string_view key;
    if (auto error = readKey(field, &key)) return jsonError(error);
    od::value value = field.value();
    TP_RETURN_IF_ERROR(visit(key, value));
  }
  return absl::OkStatus();
}

absl::Status tooDeep(size_t limit) {
  return absl::InvalidArgumentError(
      common::concat("invalid JSON: nested deeper than ", limit, " levels"));
}

// Nesting depth of a JSON text that simdjson has already validated structurally.
size_t nestingDepth(std::string_view json) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Skips a value the processor does not read, refusing containers nested beyond the limit (the
// parser itself would walk them iteratively; the limit keeps hostile bodies out).
absl::Status skipValue(od::value& value, size_t depth, const LogBatchLimits& limits) {
  od::json_type type;
  if (value.type().get(type)) return absl::OkStatus();  // reported by the caller's iteration
  std::string_view raw;
  if (type == od::json_type::object) {
    od::object object;
    if (value.get_object().get(object) || object.raw_json().get(raw)) return absl::OkStatus();
  } else if (type == od::json_type::array) {
    od::array array;
    if (value.get_array().get(array) || array.raw_json().get(raw)) return absl::OkStatus();
  } else {
    return absl::OkStatus();
  }
  // Each level takes an opening and a closing byte: a short container needs no scan.
  if (depth + raw.size() / 2 <= limits.max_depth) return absl::OkStatus();
  if (depth + nestingDepth(raw) > limits.max_depth) return tooDeep(limits.max_depth);
  return absl::OkStatus();
}

enum class FieldOutcome { kOk, kAbsent, kWrongType };

// Reads a string field; null counts as absent.
absl::StatusOr<FieldOutcome> readString(od::value& value, const LogBatchLimits& limits,
                                        std::string_view* out) {
  od::json_type type;
  if (auto error = value.type().get(type)) {
    return jsonError(error);
  }
  if (type == od::json_type::null) return FieldOutcome::kAbsent;
  if (type != od::json_type::string) return FieldOutcome::kWrongType;
  if (auto error = readStringValue(value, out)) return jsonError(error);
  if (out->size() > limits.max_string_bytes) {
    return absl::ResourceExhaustedError(common::concat("a string of ", out->size(),
                                                       " bytes exceeds the limit of ",
                                                       limits.max_string_bytes, " bytes"));
  }
  return FieldOutcome::kOk;
}

struct RecordState {
  LogRecord record;
  bool has_date = false;
  bool date_invalid = false;
  bool wrong_type = false;
  std::string_view log;
};

absl::Status readKubernetes(od::value& value, size_t depth, const LogBatchLimits& limits,
                            RecordState& state) {
  od::json_type type;
  if (auto error = value.type().get(type)) {
    return jsonError(error);
  }
  if (type == od::json_type::null) return absl::OkStatus();
  if (type != od::json_type::object) {
    state.wrong_type = true;
    return skipValue(value, depth, limits);
  }
  od::object object;
  if (auto error = value.get_object().get(object)) {
    return jsonError(error);
  }
  state.record.has_kubernetes = true;
  return forEachField(object, [&](std::string_view key, od::value& field_value) -> absl::Status {
    std::string_view* target = nullptr;
    if (key == "pod_name") {
      target = &state.record.pod_name;
    } else if (key == "pod_id") {
      target = &state.record.pod_uid;
    } else if (key == "namespace_name") {
      target = &state.record.namespace_name;
    } else if (key == "host") {
      target = &state.record.host;
    } else if (key == "container_name") {
      target = &state.record.container_name;
    }
    if (target == nullptr) return skipValue(field_value, depth + 1, limits);
    auto outcome = readString(field_value, limits, target);
    if (!outcome.ok()) return outcome.status();
    if (*outcome == FieldOutcome::kWrongType) state.wrong_type = true;
    return absl::OkStatus();
  });
}

// Reads one record object into `state`; a non-OK status fails the whole batch.
absl::Status readRecord(od::object& object, size_t depth, const LogBatchLimits& limits,
                        RecordState& state) {
  std::string_view message;
  TP_RETURN_IF_ERROR(
      forEachField(object, [&](std::string_view key, od::value& value) -> absl::Status {
        if (key == "date") {
          od::json_type type;
          if (auto error = value.type().get(type)) return jsonError(error);
          std::string_view token;
          if (type == od::json_type::number) {
            token = value.raw_json_token();
          } else if (type == od::json_type::string) {
            if (value.get_string().get(token)) state.date_invalid = true;
          }
          state.has_date =
              (type == od::json_type::number || type == od::json_type::string) &&
              parseLogTime(token, type == od::json_type::string, &state.record.time_us);
          if (!state.has_date) state.date_invalid = true;
          return absl::OkStatus();
        }
        if (key == "message" || key == "log") {
          std::string_view text;
          auto outcome = readString(value, limits, &text);
          if (!outcome.ok()) return outcome.status();
          if (*outcome == FieldOutcome::kWrongType) state.wrong_type = true;
          (key == "message" ? message : state.log) = text;
          return absl::OkStatus();
        }
        if (key == "kubernetes") return readKubernetes(value, depth + 1, limits, state);
        return skipValue(value, depth + 1, limits);
      }));
  state.record.message = message.empty() ? state.log : message;
  return absl::OkStatus();
}

void finishRecord(const RecordState& state, size_t index, LogRecordSink& sink) {
  if (state.date_invalid || !state.has_date) {
    sink.onSkipped(index, SkipReason::kInvalidDate);
  } else if (state.wrong_type) {
    sink.onSkipped(index, SkipReason::kWrongType);
  } else {
    sink.onRecord(state.record);
  }
}

// Reads the record in `value` and hands it to the sink (or counts it skipped).
absl::Status processRecord(od::value value, size_t index, size_t depth,
                           const LogBatchLimits& limits, LogRecordSink& sink) {
  od::json_type type;
  if (auto error = value.type().get(type)) {
    return jsonError(error);
  }
  if (type != od::json_type::object) {
    TP_RETURN_IF_ERROR(skipValue(value, depth, limits));
    sink.onSkipped(index, SkipReason::kNotAnObject);
    return absl::OkStatus();
  }
  od::object object;
  if (auto error = value.get_object().get(object)) {
    return jsonError(error);
  }
  RecordState state;
  TP_RETURN_IF_ERROR(readRecord(object, depth + 1, limits, state));
  finishRecord(state, index, sink);
  return absl::OkStatus();
}

// Adds the position to an error raised while walking a document.
absl::Status locate(const absl::Status& status, Position position, od::document& document) {
  const std::string message(common::message(status));
  if (status.code() != absl::StatusCode::kInvalidArgument || message.starts_with("invalid JSON")) {
    return status;
  }
  return invalidAt(position, document, message);
}

// True when the document has content after its root value.
bool hasTrailingContent(od::document& document) {
  const char* location = nullptr;
  return !document.current_location().get(location);
}

od::parser& threadLocalParser() {
  thread_local od::parser parser;
  return parser;
}

absl::StatusOr<od::parser*> threadParser(size_t max_depth) {
  od::parser& parser = threadLocalParser();
  if (parser.max_depth() != max_depth) {
    if (auto error = parser.allocate(std::max<size_t>(parser.capacity(), 4096), max_depth)) {
      return absl::ResourceExhaustedError(
          common::concat("cannot allocate the JSON parser: ", simdjson::error_message(error)));
    }
  }
  return &parser;
}

void releaseLargeParser() {
  od::parser& parser = threadLocalParser();
  if (parser.capacity() <= kLogParserKeepCapacity) return;
  parser = od::parser();
  malloc_trim(0);
}

absl::Status parseArray(std::string_view body, const LogBatchLimits& limits, LogRecordSink& sink) {
  auto parser_or = threadParser(limits.max_depth);
  if (!parser_or.ok()) return parser_or.status();
  od::parser& parser = **parser_or;
  const Position position{body};
  od::document document;
  if (auto error =
          parser.iterate(body.data(), body.size(), body.size() + kLogBatchPadding).get(document)) {
    return syntaxError(position, error);
  }
  od::json_type type;
  if (auto error = document.type().get(type)) return syntaxError(position, document, error);
  if (type == od::json_type::object) {
    return absl::InvalidArgumentError(
        "expected a JSON array of records (Fluent Bit format json); send one record per line "
        "with Content-Type: application/x-ndjson");
  }
  if (type != od::json_type::array) {
    return invalidAt(position, document, "expected a JSON array of records");
  }
  od::array array;
  if (auto error = document.get_array().get(array)) return syntaxError(position, document, error);
  size_t index = 0;
  for (auto element : array) {
    od::value value;
    if (auto error = element.get(value)) return syntaxError(position, document, error);
    if (absl::Status status = processRecord(value, index++, 1, limits, sink); !status.ok()) {
      return locate(status, position, document);
    }
  }
  if (hasTrailingContent(document)) {
    return invalidAt(position, document, "unexpected data after the array");
  }
  return absl::OkStatus();
}

absl::Status parseLines(std::string_view body, const LogBatchLimits& limits, LogRecordSink& sink) {
  auto parser_or = threadParser(limits.max_depth);
  if (!parser_or.ok()) return parser_or.status();
  od::parser& parser = **parser_or;
  const char* const padded_end = body.data() + body.size() + kLogBatchPadding;
  size_t index = 0;
  size_t line_number = 0;
  while (!body.empty()) {
    ++line_number;
    const size_t newline = body.find('\n');
    const std::string_view line = common::trim(body.substr(0, newline));
    body = newline == std::string_view::npos ? std::string_view() : body.substr(newline + 1);
    if (line.empty()) continue;
    const Position position{line, line_number};
    od::document document;
    if (auto error =
            parser.iterate(line.data(), line.size(), static_cast<size_t>(padded_end - line.data()))
                .get(document)) {
      return syntaxError(position, error);
    }
    od::json_type type;
    if (auto error = document.type().get(type)) return syntaxError(position, document, error);
    if (type != od::json_type::object) {
      std::string_view raw;
      if (type == od::json_type::array && !document.raw_json().get(raw) &&
          nestingDepth(raw) > limits.max_depth) {
        return tooDeep(limits.max_depth);
      }
      sink.onSkipped(index++, SkipReason::kNotAnObject);
      continue;
    }
    od::object object;
    if (auto error = document.get_object().get(object)) {
      return syntaxError(position, document, error);
    }
    RecordState state;
    if (absl::Status status = readRecord(object, 1, limits, state); !status.ok()) {
      return locate(status, position, document);
    }
    if (hasTrailingContent(document)) {
      return invalidAt(position, document, "more than one value on the line");
    }
    finishRecord(state, index, sink);
    ++index;
  }
  return absl::OkStatus();
}

int64_t daysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

bool readDigits(std::string_view text, size_t at, size_t count, int64_t* value) {
  if (at + count > text.size()) return false;
  int64_t result = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    result = result * 10 + (text[i] - '0');
  }
  *value = result;
  return true;
}

// Microseconds from the digits after a decimal point: the first six, right-padded.
int64_t fractionMicros(std::string_view digits) {
  int64_t micros = 0;
  for (size_t i = 0; i < 6; ++i) {
    micros = micros * 10 + (i < digits.size() ? digits[i] - '0' : 0);
  }
  return micros;
}

bool allDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool parseIsoTime(std::string_view text, int64_t* time_us) {
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20 || !readDigits(text, 0, 4, &year) || text[4] != '-' ||
      !readDigits(text, 5, 2, &month) || text[7] != '-' || !readDigits(text, 8, 2, &day) ||
      (text[10] != 'T' && text[10] != ' ') || !readDigits(text, 11, 2, &hour) || text[13] != ':' ||
      !readDigits(text, 14, 2, &minute) || text[16] != ':' || !readDigits(text, 17, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  std::string_view rest = text.substr(19);
  int64_t micros = 0;
  if (rest.starts_with('.')) {
    const size_t end = rest.find_first_not_of("0123456789", 1);
    const std::string_view digits = rest.substr(1, end == std::string_view::npos ? end : end - 1);
    if (digits.empty()) return false;
    micros = fractionMicros(digits);
    rest.remove_prefix(1 + digits.size());
  }
  if (rest != "Z" && rest != "+00:00") return false;
  const int64_t days =
      daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  *time_us = ((days * 24 + hour) * 60 + minute) * 60'000'000 + second * 1'000'000 + micros;
  return true;
}

}  // namespace

absl::Status parseLogBatch(std::string_view body, LogBatchFormat format,
                           const LogBatchLimits& limits, LogRecordSink& sink) {
  if (common::trim(body).empty()) return absl::InvalidArgumentError("empty body");
  absl::Status status = format == LogBatchFormat::kJsonArray ? parseArray(body, limits, sink)
                                                             : parseLines(body, limits, sink);
  releaseLargeParser();
  return status;
}

size_t logParserCapacity() { return threadLocalParser().capacity(); }

namespace {

bool parseAnyLogTime(std::string_view token, bool is_string, int64_t* time_us) {
  if (is_string) return parseIsoTime(token, time_us);
  // A plain decimal is read digit by digit, so no precision is lost to binary floating point.
  const size_t dot = token.find('.');
  const std::string_view whole = token.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : token.substr(dot + 1);
  if (allDigits(whole) && whole.size() <= 12 &&
      (dot == std::string_view::npos || allDigits(fraction))) {
    int64_t seconds = 0;
    for (char c : whole) seconds = seconds * 10 + (c - '0');
    *time_us = seconds * 1'000'000 + fractionMicros(fraction);
    return true;
  }
  // Exponent notation or a sign: fall back to a double, bounded to a sane range.
  char buffer[64];
  if (token.size() >= sizeof(buffer)) return false;
  token.copy(buffer, token.size());
  buffer[token.size()] = '\0';
  char* end = nullptr;
  const double seconds = std::strtod(buffer, &end);
  if (end != buffer + token.size() || !(seconds >= 0 && seconds < 1e12)) return false;
  *time_us = static_cast<int64_t>(std::llround(seconds * 1e6));
  return true;
}

}  // namespace

bool parseLogTime(std::string_view token, bool is_string, int64_t* time_us) {
  // Rows carry the time in a timestamp column: a year the databases cannot store (before 1970
  // or after 9999) would be refused there, so it is refused here.
  constexpr int64_t kYear10000Us = 253'402'300'800'000'000;
  return parseAnyLogTime(common::trim(token), is_string, time_us) && *time_us >= 0 &&
         *time_us < kYear10000Us;
}

}  // namespace tp::ingest
