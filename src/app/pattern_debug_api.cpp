#include "app/pattern_debug_api.h"

#include <algorithm>
#include <ctime>

#include "common/strings.h"
#include "http/envelope.h"
#include "simdjson.h"

namespace tp::app {
namespace {

namespace beast_http = boost::beast::http;

// The type as the configured patterns spell it; Lens's blacklist is an ignore pattern.
std::string_view typeName(training::LineKind kind) {
  return kind == training::LineKind::kNone ? "ignore" : training::lineKindName(kind);
}

// Lens's event_subtype of a lifecycle kind.
std::string_view lensSubtype(training::LineKind kind) {
  switch (kind) {
    case training::LineKind::kStartTrain:
      return "start_training";
    case training::LineKind::kEndTrain:
      return "end_training";
    case training::LineKind::kCheckpointSaveStart:
      return "start_saving";
    case training::LineKind::kCheckpointSaveEnd:
      return "end_saving";
    case training::LineKind::kCheckpointLoadStart:
      return "loading";
    case training::LineKind::kCheckpointLoadEnd:
      return "end_loading";
    case training::LineKind::kNone:
    case training::LineKind::kPerformance:
      return {};
  }
  return {};
}

void writeGroups(common::JsonWriter& writer, const training::PatternMatch& match) {
  writer.Key("groups");
  writer.StartObject();
  for (const auto& [name, value] : match.groups) {
    common::writeString(writer, name);
    common::writeString(writer, value);
  }
  writer.EndObject();
}

// What one match contributes, beside its groups: the row's id, its regex, the type.
void writeIdentity(common::JsonWriter& writer, const training::PatternMatch& match) {
  if (match.origin == training::PatternOrigin::kStored) {
    writer.Key("pattern_id");
    writer.Int64(match.id);
  }
  if (!match.regex.empty()) {
    writer.Key("pattern");
    common::writeString(writer, match.regex);
  }
  if (!match.framework.empty()) {
    writer.Key("framework");
    common::writeString(writer, match.framework);
  }
  writer.Key("name");
  common::writeString(writer, match.name);
  writer.Key("source");
  common::writeString(writer, training::patternOriginName(match.origin));
  writer.Key("type");
  common::writeString(writer, typeName(match.kind));
}

void writeExplanation(common::JsonWriter& writer, size_t log_length,
                      const training::Explanation& explanation) {
  writer.StartObject();
  writer.Key("log_length");
  writer.Uint64(log_length);
  writer.Key("cleaned_log");
  common::writeString(writer, explanation.cleaned);
  writer.Key("matched");
  writer.Bool(explanation.winner.has_value());
  if (explanation.winner) {
    const training::PatternMatch& winner = explanation.matches[*explanation.winner];
    writeIdentity(writer, winner);
    writeGroups(writer, winner);
    writer.Key("groups_count");
    writer.Uint64(winner.groups.size());
    if (winner.kind == training::LineKind::kPerformance) {
      writer.Key("performance");
      training::writePerformanceJson(writer, winner.performance);
    } else if (winner.kind != training::LineKind::kNone) {
      writer.Key("lifecycle");
      writer.StartObject();
      training::writeLifecycleFields(writer, winner.performance.lifecycle);
      writer.EndObject();
    }
  } else {
    writer.Key("groups_count");
    writer.Uint64(0);
    writer.Key("error");
    writer.String("log does not match any pattern");
  }
  writer.Key("matches");
  writer.StartArray();
  for (size_t i = 0; i < explanation.matches.size(); ++i) {
    const training::PatternMatch& match = explanation.matches[i];
    writer.StartObject();
    writeIdentity(writer, match);
    writer.Key("shadow");
    writer.Bool(match.shadow);
    writer.Key("wins");
    writer.Bool(explanation.winner == i);
    writeGroups(writer, match);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
}

std::string rfc3339(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

void writeFrameworks(common::JsonWriter& writer, const training::PerformanceExtractor& extractor,
                     const training::PatternRegistryState& state) {
  size_t performance = 0, blacklist = 0, shadow = 0;
  std::vector<std::string_view> events, checkpoints;
  const auto add_once = [](std::vector<std::string_view>& names, std::string_view name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };
  for (const auto& pattern : extractor.stored()) {
    const training::LineKind kind = training::patternKind(*pattern);
    shadow += training::isShadow(*pattern);
    if (kind == training::LineKind::kPerformance) {
      ++performance;
    } else if (kind == training::LineKind::kNone) {
      ++blacklist;
    } else if (kind == training::LineKind::kStartTrain || kind == training::LineKind::kEndTrain) {
      add_once(events, lensSubtype(kind));
    } else {
      add_once(checkpoints, lensSubtype(kind));
    }
  }
  const auto names = [&writer](const char* key, const std::vector<std::string_view>& values) {
    writer.Key(key);
    writer.StartArray();
    for (std::string_view value : values) common::writeString(writer, value);
    writer.EndArray();
  };
  writer.StartObject();
  writer.Key("total_patterns");
  writer.Uint64(extractor.storedCount());
  writer.Key("performance_patterns");
  writer.Uint64(performance);
  writer.Key("blacklist_patterns");
  writer.Uint64(blacklist);
  names("training_event_subtypes", events);
  names("checkpoint_subtypes", checkpoints);
  writer.Key("last_loaded_at");
  if (state.last_loaded.time_since_epoch().count() == 0) {
    writer.Null();
  } else {
    common::writeString(writer, rfc3339(state.last_loaded));
  }
  writer.Key("shadow_patterns");
  writer.Uint64(shadow);
  writer.Key("invalid_patterns");
  training::writeInvalidPatterns(writer, state.invalid);
  std::vector<std::string_view> formats = extractor.formatNames();
  names("formats", formats);
  writer.EndObject();
}

}  // namespace

absl::StatusOr<std::string> parseLogMatchRequest(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (const auto error = parser.parse(body.data(), body.size()).get(document);
      error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        common::concat("the body is not JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(R"(the body must be an object: {"log":"..."})");
  }
  simdjson::dom::element log;
  if (object["log"].get(log) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(R"(the body has no "log")");
  }
  std::string_view text;
  if (log.get_string().get(text) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(R"("log" must be a string)");
  }
  return std::string(text);
}

void addPatternDebugRoutes(http::Router& router, const training::PatternRegistry& registry) {
  router.add("/debug/test-log-match", {beast_http::verb::post},
             [&registry](const http::RequestContext& context) {
               absl::StatusOr<std::string> log = parseLogMatchRequest(context.request.body());
               if (!log.ok()) {
                 return http::errorResponse(context.request, 400, common::message(log.status()));
               }
               const training::Explanation explanation = registry.current()->explain(*log);
               return http::jsonResponse(context.request, 200,
                                         http::envelopeOkWriting([&](common::JsonWriter& writer) {
                                           writeExplanation(writer, log->size(), explanation);
                                         }));
             });
  router.add("/debug/frameworks", {beast_http::verb::get},
             [&registry](const http::RequestContext& context) {
               const auto extractor = registry.current();
               const training::PatternRegistryState state = registry.state();
               return http::jsonResponse(context.request, 200,
                                         http::envelopeOkWriting([&](common::JsonWriter& writer) {
                                           writeFrameworks(writer, *extractor, state);
                                         }));
             });
}

}  // namespace tp::app
