#include "console/patterns_api.h"

#include <algorithm>
#include <chrono>

#include "common/json_writer.h"
#include "common/strings.h"
#include "http/envelope.h"
#include "storage/log_patterns.h"

namespace tp::console {
namespace {

// A regex longer than this is cut in the list (its row holds it whole).
constexpr size_t kMaxRegexShown = 2048;

template <typename Key>
std::optional<double> hitsOf(const std::vector<std::pair<Key, double>>& hits, const Key& key) {
  const auto found = std::find_if(hits.begin(), hits.end(),
                                  [&key](const auto& entry) { return entry.first == key; });
  return found == hits.end() ? std::nullopt : std::optional(found->second);
}

}  // namespace

void addPatternsRoute(http::Router& router, const training::PatternRegistry& patterns,
                      storage::Database& database, const telemetry::Telemetry& telemetry) {
  router.add("/ui/api/patterns", {http::beast_http::verb::get},
             [&patterns, &database, &telemetry](const http::RequestContext& context) {
               const auto extractor = patterns.current();
               const training::PatternRegistryState state = patterns.state();
               const telemetry::PatternHits hits = telemetry::patternHits(telemetry.collect());
               // The rows' priority and source, which the compiled patterns do not keep.
               const auto rows = storage::readEnabledLogPatterns(database);
               const auto row_of = [&rows](int64_t id) -> const storage::LogPatternRow* {
                 if (!rows.ok()) return nullptr;
                 const auto found =
                     std::find_if(rows->begin(), rows->end(),
                                  [id](const storage::LogPatternRow& row) { return row.id == id; });
                 return found == rows->end() ? nullptr : &*found;
               };
               return http::jsonResponse(
                   context.request, 200, http::envelopeOkWriting([&](common::JsonWriter& writer) {
                     writer.StartObject();
                     writer.Key("last_loaded_at");
                     if (state.last_loaded.time_since_epoch().count() == 0) {
                       writer.Null();
                     } else {
                       writer.Int64(std::chrono::duration_cast<std::chrono::seconds>(
                                        state.last_loaded.time_since_epoch())
                                        .count());
                     }
                     if (!rows.ok()) {
                       writer.Key("database_error");
                       common::writeString(writer, common::message(rows.status()));
                     }
                     writer.Key("patterns");
                     writer.StartArray();
                     for (const training::PatternInfo& pattern : extractor->describe()) {
                       writer.StartObject();
                       writer.Key("origin");
                       common::writeString(writer, training::patternOriginName(pattern.origin));
                       writer.Key("id");
                       if (pattern.origin == training::PatternOrigin::kStored) {
                         writer.Int64(pattern.id);
                       } else {
                         writer.Null();
                       }
                       writer.Key("name");
                       common::writeString(writer, pattern.name);
                       writer.Key("type");
                       common::writeString(writer, training::lineKindName(pattern.kind) == "none"
                                                       ? std::string_view("ignore")
                                                       : training::lineKindName(pattern.kind));
                       writer.Key("framework");
                       common::writeString(writer, pattern.framework);
                       const storage::LogPatternRow* row =
                           pattern.origin == training::PatternOrigin::kStored ? row_of(pattern.id)
                                                                              : nullptr;
                       writer.Key("priority");
                       if (row != nullptr) {
                         writer.Int64(row->priority);
                       } else {
                         writer.Null();
                       }
                       writer.Key("source");
                       if (row != nullptr) {
                         common::writeString(writer, row->source);
                       } else {
                         writer.Null();
                       }
                       writer.Key("shadow");
                       writer.Bool(pattern.shadow);
                       writer.Key("regex");
                       common::writeString(writer, pattern.regex.substr(0, kMaxRegexShown));
                       writer.Key("regex_truncated");
                       writer.Bool(pattern.regex.size() > kMaxRegexShown);
                       // Performance lines count by format; stored rows by id; lifecycle lines are
                       // counted by type only (log_analysis_consume_count).
                       const std::optional<double> count =
                           pattern.origin == training::PatternOrigin::kStored
                               ? hitsOf(hits.by_stored_id, pattern.id)
                           : pattern.kind == training::LineKind::kPerformance
                               ? hitsOf(hits.by_format, std::string(pattern.name))
                               : std::nullopt;
                       writer.Key("hits");
                       if (count) {
                         writer.Uint64(static_cast<uint64_t>(*count));
                       } else {
                         writer.Null();
                       }
                       writer.EndObject();
                     }
                     writer.EndArray();
                     writer.Key("invalid");
                     training::writeInvalidPatterns(writer, state.invalid);
                     writer.EndObject();
                   }));
             });
}

}  // namespace tp::console
