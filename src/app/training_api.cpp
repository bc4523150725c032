#include "app/training_api.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <set>

#include <simdjson.h>

#include "common/json_writer.h"
#include "common/strings.h"
#include "http/envelope.h"
#include "http/query.h"
#include "storage/training_health.h"
#include "storage/training_queries.h"
#include "training/health_monitor.h"

namespace tp::app {
namespace {

namespace beast_http = boost::beast::http;

// The only data source of this processor's rows; a request for another finds nothing.
constexpr std::string_view kLogSource = "log";

// The two families of response shapes (docs/TRAINING.md).
enum class Shape { kLens, kRobust };

http::Response invalid(const http::RequestContext& context, std::string_view message) {
  return http::errorResponse(context.request, 400, message);
}

http::Response failed(const http::RequestContext& context, const absl::Status& status) {
  const bool away = status.code() == absl::StatusCode::kUnavailable;
  return http::errorResponse(context.request, away ? 503 : 500, common::message(status));
}

http::Response ok(const http::RequestContext& context, std::string body) {
  return http::jsonResponse(context.request, 200, std::move(body));
}

// Workload uids are Kubernetes uids: short printable ASCII. Anything else is refused before it
// reaches a database, which would each treat it otherwise (PostgreSQL refuses invalid UTF-8,
// SOCI cuts a value at a NUL byte).
constexpr size_t kMaxUidBytes = 256;  // the width of the uid columns
constexpr std::string_view kUidProblem = "must be 1 to 256 printable ASCII characters";

bool plausibleUid(std::string_view uid) {
  return !uid.empty() && uid.size() <= kMaxUidBytes &&
         std::all_of(uid.begin(), uid.end(), [](char c) { return c > ' ' && c < '\x7f'; });
}

std::optional<int64_t> parseInteger(std::string_view text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Cursors are opaque to clients: hex of what the next page starts after.
std::string encodeCursor(std::string_view position) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string cursor;
  for (const char c : position) {
    cursor += kDigits[static_cast<unsigned char>(c) >> 4];
    cursor += kDigits[static_cast<unsigned char>(c) & 0xf];
  }
  return cursor;
}

// "serial:rest" from a cursor of this API.
std::optional<std::pair<int64_t, std::string>> decodeCursor(std::string_view cursor) {
  if (cursor.size() % 2 != 0) return std::nullopt;
  std::string position;
  for (size_t i = 0; i < cursor.size(); i += 2) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(cursor.data() + i, cursor.data() + i + 2, value, 16);
    if (error != std::errc() || end != cursor.data() + i + 2) return std::nullopt;
    position += static_cast<char>(value);
  }
  const size_t colon = position.find(':');
  if (colon == std::string::npos) return std::nullopt;
  const std::optional<int64_t> serial = parseInteger(std::string_view(position).substr(0, colon));
  if (!serial) return std::nullopt;
  return std::pair(*serial, position.substr(colon + 1));
}

// "2025-10-23T12:39:12.123Z"
std::string rfc3339(int64_t time_us) {
  const auto seconds = static_cast<std::time_t>(time_us / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const size_t length = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  return common::concat(std::string_view(text, length), ".",
                        fmt::format("{:03d}", (time_us % 1'000'000) / 1000), "Z");
}

template <typename T>
void writeOptional(common::JsonWriter& writer, const std::optional<T>& value) {
  if (value) {
    writer.Int64(*value);
  } else {
    writer.Null();
  }
}

void writeOptionalTime(common::JsonWriter& writer, const std::optional<int64_t>& time_us) {
  if (time_us) {
    common::writeString(writer, rfc3339(*time_us));
  } else {
    writer.Null();
  }
}

// "running, stalled, ... or gone": the values the runs API's `state` takes.
std::string stateNames() {
  std::string names;
  for (size_t i = 0; i < std::size(storage::kRunStates); ++i) {
    const std::string_view separator = i == 0                                    ? ""
                                       : i + 1 == std::size(storage::kRunStates) ? " or "
                                                                                 : ", ";
    names += common::concat(separator, storage::nameOf(storage::kRunStates[i]));
  }
  return names;
}

http::Response listRuns(storage::Database& database, const http::RequestContext& context) {
  const http::QueryParameters parameters(http::toStd(context.request.target()));
  storage::RunQuery query;
  query.limit = kDefaultRunLimit;
  if (const auto workload = parameters.get("workload_uid"); workload && !workload->empty()) {
    if (!plausibleUid(*workload))
      return invalid(context, common::concat("workload_uid: ", kUidProblem));
    query.workload_uid = std::string(*workload);
  }
  if (const auto state = parameters.get("state"); state && !state->empty()) {
    query.state = storage::runStateNamed(*state);
    if (!query.state) return invalid(context, common::concat("state: must be ", stateNames()));
  }
  if (const auto name = parameters.get("q"); name && !name->empty()) {
    constexpr size_t kMaxNameBytes = 253;  // a Kubernetes name
    if (name->size() > kMaxNameBytes) return invalid(context, "q: longer than 253 bytes");
    query.name_contains = std::string(*name);
  }
  if (const auto limit = parameters.get("limit"); limit && !limit->empty()) {
    const std::optional<int64_t> value = parseInteger(*limit);
    if (!value || *value < 1 || *value > static_cast<int64_t>(kMaxRunLimit)) {
      return invalid(context, common::concat("limit: must be an integer from 1 to ", kMaxRunLimit));
    }
    query.limit = static_cast<size_t>(*value);
  }
  if (const auto cursor = parameters.get("cursor"); cursor && !cursor->empty()) {
    const auto position = decodeCursor(*cursor);
    if (!position || position->first < 0 || position->first > std::numeric_limits<int>::max()) {
      return invalid(context, "cursor: not a next_cursor of this API");
    }
    query.after = storage::RunKey{position->second, static_cast<int>(position->first)};
  }
  auto page = storage::listRuns(database, query);
  if (!page.ok()) return failed(context, page.status());
  return ok(context, http::envelopeOkWriting([&page](common::JsonWriter& writer) {
              writer.StartObject();
              writer.Key("runs");
              writer.StartArray();
              for (const storage::RunSummary& run : page->runs) {
                writer.StartObject();
                writer.Key("workload_uid");
                common::writeString(writer, run.workload_uid);
                writer.Key("workload_name");
                common::writeString(writer, run.workload_name);
                writer.Key("serial");
                writer.Int(run.serial);
                writer.Key("nearest_workload_uid");
                common::writeString(writer, run.nearest_workload_uid);
                writer.Key("pods");
                writer.StartArray();
                for (const std::string& pod : run.pods) common::writeString(writer, pod);
                writer.EndArray();
                writer.Key("started_at");
                common::writeString(writer, rfc3339(run.started_us));
                writer.Key("last_iteration");
                writeOptional(writer, run.last_iteration);
                writer.Key("last_iteration_at");
                writeOptionalTime(writer, run.last_iteration_us);
                writer.Key("target_iterations");
                writeOptional(writer, run.target_iterations);
                writer.Key("state");
                common::writeString(writer, storage::nameOf(run.state));
                writer.Key("since");
                common::writeString(writer, rfc3339(run.since_us));
                writer.Key("checkpoints");
                writer.StartObject();
                writer.Key("count");
                writer.Int64(run.checkpoints.count);
                writer.Key("last_iteration");
                writeOptional(writer, run.checkpoints.last_iteration);
                writer.Key("last_duration_ms");
                writeOptional(writer, run.checkpoints.last_duration_ms);
                writer.EndObject();
                writer.EndObject();
              }
              writer.EndArray();
              if (page->more && !page->runs.empty()) {
                const storage::RunSummary& last = page->runs.back();
                writer.Key("next_cursor");
                common::writeString(
                    writer, encodeCursor(common::concat(last.serial, ":", last.workload_uid)));
              }
              writer.EndObject();
            }));
}

// A metrics request: which rows, which metrics, from which data source.
struct MetricsRequest {
  storage::PerformanceQuery query;
  std::set<std::string, std::less<>> metrics;  // empty: all
  bool other_source = false;                   // a data source this processor has no rows of
};

// Lens's "metrics" parameter: "a,b", "{a,b}" (Grafana) or "all".
std::set<std::string, std::less<>> metricList(std::string_view text) {
  text = common::trim(text);
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, text.size() - 2);
  }
  std::set<std::string, std::less<>> names;
  if (text == "all") return names;
  for (const std::string_view name : common::splitTrimmed(text, ',')) names.emplace(name);
  return names;
}

// Reads the parameters the metric routes share; an error message names the bad one.
absl::StatusOr<MetricsRequest> metricsRequest(const http::RequestContext& context, Shape shape) {
  const http::QueryParameters parameters(http::toStd(context.request.target()));
  MetricsRequest request;
  request.query.workload_uid = std::string(context.parameters.get("workload_uid"));
  if (!plausibleUid(request.query.workload_uid)) {
    return absl::InvalidArgumentError(common::concat("workload_uid: ", kUidProblem));
  }
  if (const auto run = parameters.get("run"); run && !run->empty()) {
    const std::optional<int64_t> serial = parseInteger(*run);
    if (!serial || *serial < 1 || *serial > std::numeric_limits<int>::max()) {
      return absl::InvalidArgumentError("run: must be a run serial, an integer from 1");
    }
    request.query.serial = static_cast<int>(*serial);
  }
  for (const auto& [name, bound] :
       {std::pair("start", &request.query.from_us), std::pair("end", &request.query.to_us)}) {
    const auto value = parameters.get(name);
    if (!value || value->empty()) continue;
    const std::optional<int64_t> ms = parseInteger(*value);
    // Bounded so that microseconds fit and the year stays below 10000.
    if (!ms || *ms < 0 || *ms > 253'402'300'799'999) {
      return absl::InvalidArgumentError(
          common::concat(name, ": must be milliseconds since the epoch"));
    }
    // An end holds all of its millisecond.
    *bound = *ms * 1000 + (bound == &request.query.to_us ? 999 : 0);
  }
  if (const auto metrics = parameters.get("metrics")) request.metrics = metricList(*metrics);
  const auto source = parameters.get(shape == Shape::kLens ? "data_source" : "source");
  request.other_source = source && !source->empty() && *source != kLogSource;
  if (const auto cursor = parameters.get("cursor"); cursor && !cursor->empty()) {
    const auto position = decodeCursor(*cursor);
    const std::optional<int64_t> iteration =
        position ? parseInteger(position->second) : std::nullopt;
    if (!iteration || position->first < 0 || position->first > std::numeric_limits<int>::max()) {
      return absl::InvalidArgumentError("cursor: not a next_cursor of this API");
    }
    request.query.after = std::pair(static_cast<int>(position->first), *iteration);
  }
  return request;
}

// The metrics of performance documents: their fields but the iteration numbers, finite numbers
// only, in document order. One reader serves a request; its parser keeps its buffers.
class MetricReader {
 public:
  struct Metric {
    std::string_view name;
    simdjson::dom::element value;
  };

  // Valid until the next read.
  const std::vector<Metric>& read(std::string_view json,
                                  const std::set<std::string, std::less<>>& wanted) {
    metrics_.clear();
    simdjson::dom::object document;
    if (parser_.parse(json.data(), json.size()).get_object().get(document) != simdjson::SUCCESS) {
      return metrics_;
    }
    for (const simdjson::dom::key_value_pair field : document) {
      if (field.key == "current_iteration" || field.key == "target_iteration") continue;
      if (!wanted.empty() && !wanted.contains(field.key)) continue;
      // Non-finite values are stored as the strings "NaN", "+Inf", "-Inf": not numbers.
      if (!field.value.is_number()) continue;
      metrics_.push_back({field.key, field.value});
    }
    return metrics_;
  }

 private:
  simdjson::dom::parser parser_;
  std::vector<Metric> metrics_;
};

void writeNumber(common::JsonWriter& writer, simdjson::dom::element number) {
  switch (number.type()) {
    case simdjson::dom::element_type::INT64:
      writer.Int64(number.get_int64().value_unsafe());
      return;
    case simdjson::dom::element_type::UINT64:
      writer.Uint64(number.get_uint64().value_unsafe());
      return;
    default:
      writer.Double(number.get_double().value_unsafe());
  }
}

http::Response available(storage::Database& database, const http::RequestContext& context,
                         Shape shape) {
  auto request = metricsRequest(context, shape);
  if (!request.ok()) return invalid(context, common::message(request.status()));
  std::map<std::string, int64_t, std::less<>> counts;
  size_t scanned = 0;
  bool truncated = false;  // counts of the first kMaxScannedRows rows only
  MetricReader reader;
  if (!request->other_source) {
    const absl::Status status = storage::readPerformance(
        database, request->query, [&](const storage::PerformanceRecord& record) {
          if (scanned == kMaxScannedRows) {
            truncated = true;
            return false;
          }
          ++scanned;
          for (const MetricReader::Metric& metric :
               reader.read(record.performance_json, request->metrics)) {
            const auto it = counts.find(metric.name);
            if (it == counts.end()) {
              counts.emplace(metric.name, 1);
            } else {
              ++it->second;
            }
          }
          return true;
        });
    if (!status.ok()) return failed(context, status);
  }
  const std::string_view workload = context.parameters.get("workload_uid");
  return ok(context, http::envelopeOkWriting([&](common::JsonWriter& writer) {
              writer.StartObject();
              writer.Key(shape == Shape::kLens ? "workload_uid" : "workload_id");
              common::writeString(writer, workload);
              writer.Key("metrics");
              writer.StartArray();
              for (const auto& [name, count] : counts) {
                if (shape == Shape::kRobust) {
                  common::writeString(writer, name);
                  continue;
                }
                writer.StartObject();
                writer.Key("name");
                common::writeString(writer, name);
                writer.Key("data_source");
                writer.StartArray();
                common::writeString(writer, kLogSource);
                writer.EndArray();
                writer.Key("count");
                writer.Int64(count);
                writer.EndObject();
              }
              writer.EndArray();
              writer.Key(shape == Shape::kLens ? "total_count" : "count");
              writer.Uint64(counts.size());
              if (truncated) {
                writer.Key("truncated");
                writer.Bool(true);
              }
              writer.EndObject();
            }));
}

http::Response data(storage::Database& database, const http::RequestContext& context, Shape shape) {
  auto request = metricsRequest(context, shape);
  if (!request.ok()) return invalid(context, common::message(request.status()));
  absl::Status status;
  size_t values = 0, points = 0, scanned = 0;
  std::optional<std::pair<int, int64_t>> last_read;
  bool truncated = false;
  MetricReader reader;
  std::string body = http::envelopeOkWriting([&](common::JsonWriter& writer) {
    writer.StartObject();
    writer.Key(shape == Shape::kLens ? "workload_uid" : "workload_id");
    common::writeString(writer, request->query.workload_uid);
    if (shape == Shape::kLens) {
      writer.Key("data_source");
      common::writeString(writer, kLogSource);
    }
    writer.Key(shape == Shape::kLens ? "data" : "points");
    writer.StartArray();
    if (!request->other_source) {
      status = storage::readPerformance(
          database, request->query, [&](const storage::PerformanceRecord& record) {
            // Rows without a wanted metric cost a read too: a page reads a bounded number.
            if (scanned == kMaxScannedRows) {
              truncated = true;
              return false;
            }
            ++scanned;
            const auto& metrics = reader.read(record.performance_json, request->metrics);
            if (metrics.empty()) {
              last_read.emplace(record.serial, record.iteration);
              return true;
            }
            // Whole rows only, so that the cursor can continue after the last one read.
            if (values > 0 && values + metrics.size() > kMaxMetricValues) {
              truncated = true;
              return false;
            }
            values += metrics.size();
            last_read.emplace(record.serial, record.iteration);
            const int64_t timestamp_ms = record.time_us / 1000;
            if (shape == Shape::kRobust) {
              ++points;
              writer.StartObject();
              writer.Key("source");
              common::writeString(writer, kLogSource);
              writer.Key("iteration");
              writer.Int64(record.iteration);
              writer.Key("metrics");
              writer.StartObject();
              for (const MetricReader::Metric& metric : metrics) {
                common::writeString(writer, metric.name);
                writeNumber(writer, metric.value);
              }
              writer.EndObject();
              writer.Key("timestamp");
              common::writeString(writer, rfc3339(record.time_us));
              writer.EndObject();
              return true;
            }
            for (const MetricReader::Metric& metric : metrics) {
              ++points;
              writer.StartObject();
              writer.Key("metric_name");
              common::writeString(writer, metric.name);
              writer.Key("value");
              writeNumber(writer, metric.value);
              writer.Key("timestamp");
              writer.Int64(timestamp_ms);
              writer.Key("iteration");
              writer.Int64(record.iteration);
              writer.Key("data_source");
              common::writeString(writer, kLogSource);
              writer.EndObject();
            }
            return true;
          });
    }
    writer.EndArray();
    writer.Key(shape == Shape::kLens ? "total_count" : "total");
    writer.Uint64(points);
    if (truncated) {
      writer.Key("truncated");
      writer.Bool(true);
      writer.Key("next_cursor");
      common::writeString(writer,
                          encodeCursor(common::concat(last_read->first, ":", last_read->second)));
    }
    writer.EndObject();
  });
  if (!status.ok()) return failed(context, status);
  return ok(context, std::move(body));
}

// At most this many health events in one answer: a workload has a few per run.
constexpr size_t kMaxHealthEvents = 10'000;

http::Response goodput(storage::Database& database, const common::Clock& clock,
                       const http::RequestContext& context) {
  const std::string workload_uid(context.parameters.get("workload_uid"));
  if (!plausibleUid(workload_uid)) {
    return invalid(context, common::concat("workload_uid: ", kUidProblem));
  }
  const int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(clock.wallNow().time_since_epoch())
          .count();
  auto figures = training::workloadGoodput(database, workload_uid, now_us);
  if (!figures.ok()) return failed(context, figures.status());
  if (!figures->has_value()) {
    return http::errorResponse(context.request, 404,
                               common::concat("workload ", workload_uid, " has no training run"));
  }
  const training::Goodput& goodput = **figures;
  return ok(
      context, http::envelopeOkWriting([&](common::JsonWriter& writer) {
        writer.StartObject();
        writer.Key("workload_uid");
        common::writeString(writer, workload_uid);
        writer.Key("runs");
        writer.Int(goodput.runs);
        writer.Key("start");
        common::writeString(writer, rfc3339(goodput.start_us));
        writer.Key("end");
        common::writeString(writer, rfc3339(goodput.end_us));
        writer.Key("wall_seconds");
        writer.Double(goodput.wall_seconds);
        writer.Key("productive_seconds");
        writer.Double(goodput.productive_seconds);
        writer.Key("ratio");
        writer.Double(goodput.ratio);
        writer.Key("lost_seconds");
        writer.StartObject();
        for (const auto& [reason, seconds] : {std::pair{"restarts", goodput.restarts_seconds},
                                              std::pair{"redone", goodput.redone_seconds},
                                              std::pair{"stalls", goodput.stalls_seconds},
                                              std::pair{"checkpoints", goodput.checkpoints_seconds},
                                              std::pair{"other", goodput.other_seconds}}) {
          writer.Key(reason);
          writer.Double(seconds);
        }
        writer.EndObject();
        writer.Key("counted_iterations");
        writer.Int64(goodput.counted_iterations);
        writer.Key("redone_iterations");
        writer.Int64(goodput.redone_iterations);
        writer.EndObject();
      }));
}

http::Response healthEvents(storage::Database& database, const http::RequestContext& context) {
  const std::string workload_uid(context.parameters.get("workload_uid"));
  if (!plausibleUid(workload_uid)) {
    return invalid(context, common::concat("workload_uid: ", kUidProblem));
  }
  const http::QueryParameters parameters(http::toStd(context.request.target()));
  std::optional<int> run;
  if (const auto value = parameters.get("run"); value && !value->empty()) {
    const std::optional<int64_t> serial = parseInteger(*value);
    if (!serial || *serial < 1 || *serial > std::numeric_limits<int>::max()) {
      return invalid(context, "run: must be a run serial (an integer from 1)");
    }
    run = static_cast<int>(*serial);
  }
  auto events = storage::readHealthEvents(database, workload_uid, run);
  if (!events.ok()) return failed(context, events.status());
  return ok(context, http::envelopeOkWriting([&](common::JsonWriter& writer) {
              writer.StartObject();
              writer.Key("events");
              writer.StartArray();
              // The newest, when there are more.
              const size_t first = events->size() - std::min(events->size(), kMaxHealthEvents);
              for (size_t i = first; i < events->size(); ++i) {
                const storage::HealthEvent& event = (*events)[i];
                writer.StartObject();
                writer.Key("run");
                writer.Int(event.run_serial);
                writer.Key("type");
                common::writeString(writer, storage::nameOf(event.type));
                // Where it happened (its detail's iteration); the occurrence is its key, which
                // for a rewind is the previous run and for a resumption or recovery what it ends.
                writer.Key("iteration");
                writer.Int64(training::eventIteration(event));
                writer.Key("occurrence");
                writer.Int64(event.occurrence);
                writer.Key("time");
                common::writeString(writer, rfc3339(event.time_us));
                writer.Key("pod_uid");
                common::writeString(writer, event.pod_uid);
                writer.Key("detail");
                // The detector wrote it: an object.
                if (event.detail_json.empty()) {
                  writer.Null();
                } else {
                  writer.RawValue(event.detail_json.data(), event.detail_json.size(),
                                  rapidjson::kObjectType);
                }
                writer.EndObject();
              }
              writer.EndArray();
              if (events->size() > kMaxHealthEvents) {
                writer.Key("truncated");
                writer.Bool(true);
              }
              writer.EndObject();
            }));
}

}  // namespace

void addTrainingRoutes(http::Router& router, storage::Database& database,
                       const common::Clock& clock) {
  const std::vector<beast_http::verb> get = {beast_http::verb::get};
  router.add("/training/runs", get, [&database](const http::RequestContext& context) {
    return listRuns(database, context);
  });
  router.add("/training/{workload_uid}/goodput", get,
             [&database, &clock](const http::RequestContext& context) {
               return goodput(database, clock, context);
             });
  router.add(
      "/training/{workload_uid}/events", get,
      [&database](const http::RequestContext& context) { return healthEvents(database, context); });
  const auto route = [&](const std::string& path, auto handler, Shape shape) {
    router.add(path, get, [&database, handler, shape](const http::RequestContext& context) {
      return handler(database, context, shape);
    });
  };
  for (const char* base : {"/training/{workload_uid}", "/workloads/{workload_uid}/metrics"}) {
    route(common::concat(base, "/available"), available, Shape::kLens);
    route(common::concat(base, "/data"), data, Shape::kLens);
  }
  route("/api/v1/training/{workload_uid}/available", available, Shape::kRobust);
  route("/api/v1/training/{workload_uid}/data", data, Shape::kRobust);
}

}  // namespace tp::app
