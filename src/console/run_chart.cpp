#include "console/run_chart.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "common/strings.h"
#include "http/envelope.h"
#include "http/query.h"
#include "storage/training_health.h"
#include "storage/training_queries.h"
#include "training/health_rules.h"

namespace tp::console {
namespace {

// Markers beyond this many are left out (anomalies could repeat all run long); the answer says so.
constexpr size_t kMaxMarkers = 2000;

std::optional<int64_t> parseNumber(std::optional<std::string_view> text) {
  if (!text) return std::nullopt;
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return value;
}

void writeStats(common::JsonWriter& writer, const std::vector<double>& values) {
  writer.StartArray();
  for (const double value : values) {
    if (std::isnan(value)) {
      writer.Null();
    } else {
      writer.Double(value);
    }
  }
  writer.EndArray();
}

struct Marker {
  std::string_view type;
  std::optional<int64_t> iteration;
  int64_t time_us = 0;
  std::string detail_json;  // empty: none
};

// The run's shape (start, saves, stalls, end) is always kept; anomalies fill what room is left,
// oldest first.
bool essential(const Marker& marker) {
  return marker.type == "StartTrain" || marker.type == "EndTrain" ||
         marker.type == "checkpoint_save" || marker.type == "TrainingStalled" ||
         marker.type == "TrainingResumed";
}

void writeMarkers(common::JsonWriter& writer, std::vector<Marker>& markers) {
  const auto by_time = [](const Marker& a, const Marker& b) { return a.time_us < b.time_us; };
  const bool truncated = markers.size() > kMaxMarkers;
  if (truncated) {
    const auto anomalies = std::stable_partition(markers.begin(), markers.end(), essential);
    std::stable_sort(anomalies, markers.end(), by_time);
    markers.resize(kMaxMarkers);
  }
  std::stable_sort(markers.begin(), markers.end(), by_time);
  writer.Key("markers");
  writer.StartArray();
  for (const Marker& marker : markers) {
    writer.StartObject();
    writer.Key("type");
    common::writeString(writer, marker.type);
    writer.Key("iteration");
    if (marker.iteration) {
      writer.Int64(*marker.iteration);
    } else {
      writer.Null();
    }
    writer.Key("time_ms");
    writer.Int64(marker.time_us / 1000);
    writer.Key("detail");
    if (marker.detail_json.empty()) {
      writer.Null();
    } else {
      writer.RawValue(marker.detail_json.data(), marker.detail_json.size(), rapidjson::kObjectType);
    }
    writer.EndObject();
  }
  writer.EndArray();
  writer.Key("markers_truncated");
  writer.Bool(truncated);
}

}  // namespace

RunChartBuilder::RunChartBuilder(int64_t first_iteration, int64_t last_iteration, size_t points)
    : first_(first_iteration), last_(last_iteration) {
  const int64_t span = std::max<int64_t>(last_iteration - first_iteration + 1, 1);
  const auto count = static_cast<int64_t>(std::max<size_t>(points, 1));
  width_ = (span + count - 1) / count;
  buckets_.resize(static_cast<size_t>((span + width_ - 1) / width_));
}

bool RunChartBuilder::add(int64_t iteration, int64_t time_us, std::string_view performance_json) {
  if (iteration < first_ || iteration > last_) return false;
  const auto index = static_cast<size_t>((iteration - first_) / width_);
  if (index >= buckets_.size()) return false;
  Bucket& bucket = buckets_[index];
  if (!bucket.used) {
    bucket = {.first_iteration = iteration, .first_time_us = time_us, .used = true, .stats = {}};
  }
  padded_.assign(performance_json);
  simdjson::dom::element document;
  if (parser_.parse(padded_).get(document) != simdjson::SUCCESS) return true;
  for (size_t field = 0; field < kChartFields.size(); ++field) {
    double value = 0;
    if (document[kChartFields[field]].get_double().get(value) != simdjson::SUCCESS ||
        !std::isfinite(value)) {
      continue;
    }
    Stat& stat = bucket.stats[field];
    if (stat.count == 0) {
      stat.min = stat.max = value;
    } else {
      stat.min = std::min(stat.min, value);
      stat.max = std::max(stat.max, value);
    }
    stat.sum += value;
    ++stat.count;
  }
  return true;
}

void RunChartBuilder::write(common::JsonWriter& writer) const {
  writer.Key("iteration");
  writer.StartArray();
  for (const Bucket& bucket : buckets_) {
    if (bucket.used) writer.Int64(bucket.first_iteration);
  }
  writer.EndArray();
  writer.Key("time_ms");
  writer.StartArray();
  for (const Bucket& bucket : buckets_) {
    if (bucket.used) writer.Int64(bucket.first_time_us / 1000);
  }
  writer.EndArray();
  writer.Key("series");
  writer.StartObject();
  std::vector<double> min, mean, max;
  for (size_t field = 0; field < kChartFields.size(); ++field) {
    min.clear();
    mean.clear();
    max.clear();
    for (const Bucket& bucket : buckets_) {
      if (!bucket.used) continue;
      const Stat& stat = bucket.stats[field];
      const double none = std::nan("");
      min.push_back(stat.count == 0 ? none : stat.min);
      mean.push_back(stat.count == 0 ? none : stat.sum / stat.count);
      max.push_back(stat.count == 0 ? none : stat.max);
    }
    writer.Key(kChartFields[field].data(),
               static_cast<rapidjson::SizeType>(kChartFields[field].size()));
    writer.StartObject();
    writer.Key("min");
    writeStats(writer, min);
    writer.Key("mean");
    writeStats(writer, mean);
    writer.Key("max");
    writeStats(writer, max);
    writer.EndObject();
  }
  writer.EndObject();
}

void addRunChartRoute(http::Router& router, storage::Database& database) {
  router.add("/ui/api/training/{workload_uid}/chart", {http::beast_http::verb::get},
             [&database](const http::RequestContext& context) {
               const http::QueryParameters query(http::toStd(context.request.target()));
               const std::string workload_uid(context.parameters.get("workload_uid"));
               constexpr size_t kMaxUidBytes = 253;
               if (workload_uid.size() > kMaxUidBytes) {
                 return http::errorResponse(context.request, 400,
                                            "workload_uid: longer than 253 bytes");
               }
               const std::optional<int64_t> serial = parseNumber(query.get("run"));
               if (!serial || *serial < 1 || *serial > std::numeric_limits<int>::max()) {
                 return http::errorResponse(context.request, 400,
                                            "run: must be a run's serial (1, 2, ...)");
               }
               size_t points = kDefaultChartPoints;
               if (const auto given = query.get("points")) {
                 const std::optional<int64_t> value = parseNumber(given);
                 if (!value || *value < static_cast<int64_t>(kMinChartPoints) ||
                     *value > static_cast<int64_t>(kMaxChartPoints)) {
                   return http::errorResponse(context.request, 400,
                                              "points: must be an integer from 50 to 2000");
                 }
                 points = static_cast<size_t>(*value);
               }
               const storage::RunKey run{workload_uid, static_cast<int>(*serial)};
               auto page = storage::listRuns(
                   database, {.workload_uid = workload_uid,
                              .after = storage::RunKey{workload_uid, static_cast<int>(*serial) - 1},
                              .limit = 1});
               if (!page.ok()) {
                 return http::errorResponse(context.request, 503, common::message(page.status()));
               }
               if (page->runs.empty() || page->runs.front().serial != run.serial) {
                 return http::errorResponse(
                     context.request, 404,
                     common::concat("workload ", workload_uid, " has no run ", run.serial));
               }
               const storage::RunSummary& summary = page->runs.front();
               auto extent = storage::runExtent(database, run);
               if (!extent.ok()) {
                 return http::errorResponse(context.request, 503, common::message(extent.status()));
               }
               RunChartBuilder chart(extent->first_iteration.value_or(0),
                                     extent->last_iteration.value_or(0), points);
               int64_t rows_read = 0;
               if (extent->rows > 0) {
                 const absl::Status read = storage::readPerformance(
                     database, {.workload_uid = workload_uid, .serial = run.serial},
                     [&chart, &rows_read](const storage::PerformanceRecord& row) {
                       if (chart.add(row.iteration, row.time_us, row.performance_json)) ++rows_read;
                       return true;
                     });
                 if (!read.ok()) {
                   return http::errorResponse(context.request, 503, common::message(read));
                 }
               }
               std::vector<Marker> markers;
               markers.push_back({.type = "StartTrain", .time_us = summary.started_us});
               if (summary.state == storage::RunState::kEnded) {
                 markers.push_back({.type = "EndTrain", .time_us = summary.since_us});
               }
               auto saves = storage::readCompletedSaves(database, workload_uid);
               auto events = storage::readHealthEvents(database, workload_uid, run.serial);
               if (!saves.ok() || !events.ok()) {
                 return http::errorResponse(
                     context.request, 503,
                     common::message(!saves.ok() ? saves.status() : events.status()));
               }
               for (const storage::CompletedSave& save : *saves) {
                 if (save.serial != run.serial) continue;
                 markers.push_back(
                     {.type = "checkpoint_save",
                      .iteration = save.iteration,
                      .time_us = save.end_us,
                      .detail_json = common::concat(R"({"duration_ms":)", save.duration_ms, "}")});
               }
               for (storage::HealthEvent& event : *events) {
                 markers.push_back({.type = storage::nameOf(event.type),
                                    .iteration = training::eventIteration(event),
                                    .time_us = event.time_us,
                                    .detail_json = std::move(event.detail_json)});
               }
               return http::jsonResponse(
                   context.request, 200, http::envelopeOkWriting([&](common::JsonWriter& writer) {
                     writer.StartObject();
                     writer.Key("workload_uid");
                     common::writeString(writer, workload_uid);
                     writer.Key("workload_name");
                     common::writeString(writer, summary.workload_name);
                     writer.Key("run");
                     writer.Int(run.serial);
                     writer.Key("state");
                     common::writeString(writer, storage::nameOf(summary.state));
                     writer.Key("rows_read");
                     writer.Int64(rows_read);
                     writer.Key("bucket_iterations");
                     writer.Int64(chart.bucketIterations());
                     chart.write(writer);
                     writeMarkers(writer, markers);
                     writer.EndObject();
                   }));
             });
}

}  // namespace tp::console
