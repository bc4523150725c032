#include "app/debug_api.h"

#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <utility>
#include <vector>

#include "common/json_writer.h"
#include "common/product.h"
#include "common/strings.h"
#include "http/envelope.h"
#include "ingest/remote_write/write_request.h"
#include "prompb/series.h"
#include "storage/training_rows.h"
#include "training/log_batch_analyzer.h"
#include "training/run_serials.h"
#include "training/training_series.h"

namespace tp::app {
namespace {

namespace beast_http = boost::beast::http;
using Labels = std::vector<std::pair<std::string, std::string>>;

inline constexpr size_t kMaxExplainSamples = 100;

struct SeriesInput {
  Labels labels;
  std::vector<prompb::SamplePoint> samples;
};

absl::Status invalid(std::string_view what) {
  return absl::InvalidArgumentError(common::toAbsl(what));
}

bool isNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }

std::optional<double> parseDouble(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  const std::string copy(text);
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> parseInt(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  const std::string copy(text);
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(copy.c_str(), &end, 10);
  if (errno != 0 || end != copy.c_str() + copy.size()) return std::nullopt;
  return value;
}

// `name{label="value",...} [value [timestamp]]`, as Prometheus writes series; the name may be
// left out when __name__ is among the labels.
absl::Status parseSeriesText(std::string_view text, int64_t now_ms, SeriesInput* out) {
  size_t pos = 0;
  const auto at = [&](std::string_view what) {
    return invalid(common::concat("series: ", what, " at offset ", pos));
  };
  const auto skip_space = [&] {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  };
  skip_space();
  const size_t name_start = pos;
  while (pos < text.size() && (isNameChar(text[pos]) || text[pos] == ':')) ++pos;
  if (pos > name_start) {
    if (!isNameStart(text[name_start]) && text[name_start] != ':') {
      return at("a metric name must not start with a digit");
    }
    out->labels.emplace_back("__name__", std::string(text.substr(name_start, pos - name_start)));
  }
  if (pos < text.size() && text[pos] == '{') {
    ++pos;
    while (true) {
      skip_space();
      if (pos >= text.size()) return at("unterminated label set");
      if (text[pos] == '}') {
        ++pos;
        break;
      }
      const size_t label_start = pos;
      while (pos < text.size() && isNameChar(text[pos])) ++pos;
      if (pos == label_start || !isNameStart(text[label_start])) return at("expected a label name");
      std::string name(text.substr(label_start, pos - label_start));
      skip_space();
      if (pos >= text.size() || text[pos] != '=') return at("expected '=' after a label name");
      ++pos;
      skip_space();
      if (pos >= text.size() || text[pos] != '"') return at("expected '\"' to open a label value");
      ++pos;
      std::string value;
      while (true) {
        if (pos >= text.size()) return at("unterminated label value");
        const char c = text[pos++];
        if (c == '"') break;
        if (c != '\\') {
          value += c;
          continue;
        }
        if (pos >= text.size()) return at("unterminated escape");
        const char escaped = text[pos++];
        if (escaped == 'n') {
          value += '\n';
        } else if (escaped == '\\' || escaped == '"') {
          value += escaped;
        } else {
          return at("unknown escape in a label value");
        }
      }
      out->labels.emplace_back(std::move(name), std::move(value));
      if (out->labels.size() > ingest::kMaxLabelsPerSeries) {
        return at(common::concat("more than ", ingest::kMaxLabelsPerSeries, " labels"));
      }
      skip_space();
      if (pos < text.size() && text[pos] == ',') ++pos;
    }
  }
  if (out->labels.empty()) return at("expected a metric name or '{'");
  skip_space();
  const auto word = [&] {
    const size_t start = pos;
    while (pos < text.size() && text[pos] != ' ' && text[pos] != '\t') ++pos;
    return text.substr(start, pos - start);
  };
  const std::string_view value_text = word();
  skip_space();
  const std::string_view timestamp_text = word();
  skip_space();
  if (pos < text.size()) return at("unexpected text after the timestamp");
  prompb::SamplePoint sample{.timestamp_ms = now_ms, .value = 1};
  if (!value_text.empty()) {
    const auto value = parseDouble(value_text);
    if (!value) return invalid(common::concat("series: the value '", value_text, "' is no number"));
    sample.value = *value;
  }
  if (!timestamp_text.empty()) {
    const auto timestamp = parseInt(timestamp_text);
    if (!timestamp) {
      return invalid(common::concat("series: the timestamp '", timestamp_text,
                                    "' is no integer of milliseconds"));
    }
    sample.timestamp_ms = *timestamp;
  }
  out->samples.push_back(sample);
  return absl::OkStatus();
}

absl::Status parseSamples(simdjson::dom::element element, int64_t now_ms, SeriesInput* out) {
  simdjson::dom::array samples;
  if (element.get_array().get(samples) != simdjson::SUCCESS) {
    return invalid("samples: must be an array of {\"value\":number,\"timestamp\":integer}");
  }
  if (samples.size() > kMaxExplainSamples) {
    return invalid(common::concat("samples: more than ", kMaxExplainSamples));
  }
  out->samples.clear();
  size_t index = 0;
  for (simdjson::dom::element sample : samples) {
    simdjson::dom::object object;
    if (sample.get_object().get(object) != simdjson::SUCCESS) {
      return invalid(common::concat("samples[", index, "]: must be an object"));
    }
    prompb::SamplePoint point{.timestamp_ms = now_ms, .value = 1};
    for (auto [key, value] : object) {
      if (key == "value") {
        if (value.get_double().get(point.value) != simdjson::SUCCESS) {
          return invalid(common::concat("samples[", index, "].value: must be a number"));
        }
      } else if (key == "timestamp") {
        if (value.get_int64().get(point.timestamp_ms) != simdjson::SUCCESS) {
          return invalid(
              common::concat("samples[", index, "].timestamp: must be an integer (milliseconds)"));
        }
      } else {
        return invalid(common::concat("samples[", index, "]: unknown field '", key, "'"));
      }
    }
    out->samples.push_back(point);
    ++index;
  }
  if (out->samples.empty()) out->samples.push_back({.timestamp_ms = now_ms, .value = 1});
  return absl::OkStatus();
}

// The body's "record", as the JSON text the logs path would receive; empty when there is none.
absl::Status parseExplainBody(std::string_view body, int64_t now_ms, SeriesInput* out,
                              std::string* record) {
  if (body.size() > kMaxExplainBodyBytes) {
    return invalid(common::concat("body over ", kMaxExplainBodyBytes, " bytes"));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (const auto error = parser.parse(body.data(), body.size()).get(document);
      error != simdjson::SUCCESS) {
    return invalid(common::concat("body is not JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return invalid(
        "body must be a JSON object with \"series\" (text form) or \"labels\" (an object)");
  }
  bool have_series = false;
  std::optional<simdjson::dom::element> samples;
  for (auto [key, value] : object) {
    if (key == "series" || key == "labels") {
      if (have_series) return invalid("give one of \"series\", \"labels\" and \"record\"");
      have_series = true;
    }
    if (key == "series") {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS) {
        return invalid("series: must be a string such as name{label=\"value\"}");
      }
      if (absl::Status parsed = parseSeriesText(text, now_ms, out); !parsed.ok()) return parsed;
    } else if (key == "labels") {
      simdjson::dom::object labels;
      if (value.get_object().get(labels) != simdjson::SUCCESS) {
        return invalid("labels: must be an object of label names to string values");
      }
      for (auto [name, label_value] : labels) {
        std::string_view text;
        if (label_value.get_string().get(text) != simdjson::SUCCESS) {
          return invalid(common::concat("labels.", name, ": must be a string"));
        }
        out->labels.emplace_back(std::string(name), std::string(text));
      }
      if (out->labels.empty()) return invalid("labels: empty");
      out->samples.push_back({.timestamp_ms = now_ms, .value = 1});
    } else if (key == "samples") {
      samples = value;
    } else if (key == "record") {
      if (have_series) return invalid("give one of \"series\", \"labels\" and \"record\"");
      have_series = true;
      if (!value.is_object()) return invalid("record: must be a Fluent Bit record (an object)");
      *record = simdjson::minify(value);
    } else {
      return invalid(common::concat("unknown field '", key, "'"));
    }
  }
  if (!have_series) {
    return invalid("give \"series\" (text form), \"labels\" (an object) or \"record\"");
  }
  if (samples) {
    if (!record->empty()) return invalid("samples: only with a series");
    return parseSamples(*samples, now_ms, out);
  }
  return absl::OkStatus();
}

// What the enricher decided, copied while its views are valid.
class Capture final : public enrich::SeriesObserver {
 public:
  void onResolved(const enrich::SeriesResolution& resolution) override {
    seen = true;
    metric_name = resolution.metric_name;
    node = resolution.node;
    rule = resolution.rule;
    device_label = resolution.device_label;
    device = resolution.device;
    pod_name = resolution.pod_name;
    pod_uid = resolution.pod_uid;
    if (resolution.workloads != nullptr) {
      for (const cache::WorkloadRef* workload : *resolution.workloads) {
        workloads.emplace_back(workload->name, workload->uid);
      }
    }
    workloads_by_uid = resolution.workloads_by_uid;
    dropped = resolution.dropped;
    drop_reason = resolution.drop_reason;
    samples_out = resolution.samples_out;
    reason = enrich::traceReason(resolution);
    for (const ingest::LabelView& label : resolution.series.labels) {
      for (std::string_view device_name : cache::kDeviceLabelNames) {
        if (label.name == device_name) {
          given_devices.push_back(common::concat(label.name, "=", label.value));
        }
      }
    }
  }

  bool seen = false;
  std::string metric_name, node, device, pod_name, pod_uid, reason;
  enrich::PodRule rule = enrich::PodRule::kNone;
  size_t device_label = 0;
  Labels workloads;
  std::vector<std::string> given_devices;  // the series' device labels, "gpu_id=3"
  bool workloads_by_uid = false;
  bool dropped = false;
  enrich::DropReason drop_reason = enrich::DropReason::kNoPod;
  size_t samples_out = 0;
};

struct DecodedOutput {
  Labels labels;
  std::vector<ingest::Sample> samples;
};

// Reads back what the enricher wrote, with the decoder the forwarded bytes would meet.
class OutputCollector final : public ingest::SeriesSink {
 public:
  absl::Status onSeries(const ingest::DecodedSeries& series) override {
    DecodedOutput& out = series_.emplace_back();
    for (const ingest::LabelView& label : series.labels) {
      out.labels.emplace_back(label.name, label.value);
    }
    out.samples = series.samples;
    return absl::OkStatus();
  }
  absl::Status onMetadata(const ingest::MetadataView&) override { return absl::OkStatus(); }
  std::vector<DecodedOutput>& series() { return series_; }

 private:
  std::vector<DecodedOutput> series_;
};

void writeLabels(common::JsonWriter& writer, const Labels& labels) {
  writer.StartObject();
  for (const auto& [name, value] : labels) {
    common::writeString(writer, name);
    common::writeString(writer, value);
  }
  writer.EndObject();
}

// Values as strings, as the Prometheus API writes them: NaN and infinities have no JSON number.
void writeSample(common::JsonWriter& writer, double value, int64_t timestamp_ms) {
  writer.StartObject();
  writer.Key("value");
  common::writeString(writer, fmt::format("{}", value));
  writer.Key("timestamp");
  writer.Int64(timestamp_ms);
  writer.EndObject();
}

// Why no rule found a pod, from the snapshot the enricher read.
std::string noRuleDetail(const Capture& capture, const cache::ClusterSnapshot& snapshot) {
  if (capture.dropped && capture.drop_reason == enrich::DropReason::kNoMetricName) {
    return "the series has no __name__ label: dropped before any rule";
  }
  std::string devices;
  if (capture.node.empty()) {
    devices = "no primus_lens_node_name label, so no device lookup";
  } else if (snapshot.node(capture.node) == nullptr) {
    devices =
        common::concat("node ", capture.node, " holds no device of a running pod in the cache");
  } else if (capture.given_devices.empty()) {
    devices = "no gpu_id, device or asic label";
  } else {
    std::string given;
    for (const std::string& device : capture.given_devices) {
      given += (given.empty() ? "" : ", ") + device;
    }
    devices = common::concat("node ", capture.node, " has no running pod's device ", given);
  }
  return devices + "; no pod label";
}

std::string ruleDetail(const Capture& capture, const cache::ClusterSnapshot& snapshot) {
  switch (capture.rule) {
    case enrich::PodRule::kDevice:
      return common::concat(cache::kDeviceLabelNames[capture.device_label], "=", capture.device,
                            " is a device of pod ", capture.pod_name, " on node ", capture.node);
    case enrich::PodRule::kPodAndUid:
      return common::concat("no device of the node matched; the pod and uid labels name pod ",
                            capture.pod_name);
    case enrich::PodRule::kPod:
      return common::concat("no device of the node matched and no uid label; the pod label names ",
                            capture.pod_name, ", its uid taken as \"unknown\"");
    case enrich::PodRule::kNone:
      break;
  }
  return noRuleDetail(capture, snapshot);
}

void writeCache(common::JsonWriter& writer, const cache::SnapshotOrigin& origin) {
  writer.Key("cache");
  writer.StartObject();
  writer.Key("generation");
  writer.Uint64(origin.generation);
  writer.Key("age_seconds");
  writer.Int64(origin.age.count());
  writer.Key("source");
  common::writeString(writer, cache::sourceName(origin.source));
  writer.EndObject();
}

void writeSeriesList(common::JsonWriter& writer, const std::vector<DecodedOutput>& list) {
  writer.StartArray();
  for (const DecodedOutput& series : list) {
    writer.StartObject();
    writer.Key("labels");
    writeLabels(writer, series.labels);
    writer.Key("samples");
    writer.StartArray();
    for (const ingest::Sample& sample : series.samples) {
      writeSample(writer, sample.value, sample.timestamp);
    }
    writer.EndArray();
    writer.EndObject();
  }
  writer.EndArray();
}

void writeExplanation(common::JsonWriter& writer, const SeriesInput& input, const Capture& capture,
                      std::vector<DecodedOutput>& forwarded, const absl::Status& refused,
                      const ExplainInput& context) {
  const cache::SnapshotOrigin& origin = context.origin;
  writer.StartObject();
  writer.Key("kind");
  writer.String("series");
  writeCache(writer, origin);
  writer.Key("input");
  writer.StartObject();
  writer.Key("labels");
  writeLabels(writer, input.labels);
  writer.Key("samples");
  writer.StartArray();
  for (const prompb::SamplePoint& sample : input.samples) {
    writeSample(writer, sample.value, sample.timestamp_ms);
  }
  writer.EndArray();
  writer.EndObject();
  writer.Key("rule");
  writer.String(enrich::kPodRuleNames[static_cast<size_t>(capture.rule)]);
  writer.Key("rule_detail");
  common::writeString(writer, ruleDetail(capture, context.snapshot));
  if (capture.rule == enrich::PodRule::kDevice) {
    writer.Key("device_label");
    common::writeString(writer, cache::kDeviceLabelNames[capture.device_label]);
    writer.Key("device");
    common::writeString(writer, capture.device);
  }
  writer.Key("pod");
  if (capture.rule == enrich::PodRule::kNone) {
    writer.Null();
  } else {
    writer.StartObject();
    writer.Key("name");
    common::writeString(writer, capture.pod_name);
    writer.Key("uid");
    common::writeString(writer, capture.pod_uid);
    writer.EndObject();
  }
  writer.Key("workloads");
  writer.StartArray();
  for (const auto& [name, uid] : capture.workloads) {
    writer.StartObject();
    writer.Key("name");
    common::writeString(writer, name);
    writer.Key("uid");
    common::writeString(writer, uid);
    writer.EndObject();
  }
  writer.EndArray();
  if (!capture.workloads.empty()) {
    writer.Key("workloads_by");
    writer.String(capture.workloads_by_uid ? "pod_uid" : "pod_name");
  }
  writer.Key("outcome");
  writer.String(!refused.ok() ? "refused" : capture.dropped ? "dropped" : "forwarded");
  if (!refused.ok()) {
    writer.Key("error");
    common::writeString(writer, common::message(refused));
  } else {
    if (capture.dropped) {
      writer.Key("drop_reason");
      writer.String(enrich::kDropReasonNames[static_cast<size_t>(capture.drop_reason)]);
    }
    writer.Key("reason");
    common::writeString(writer, capture.reason);
  }
  writer.Key("forwarded");
  writeSeriesList(writer, forwarded);
  writer.EndObject();
}

std::string rfc3339(std::chrono::system_clock::time_point time) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     micros % 1'000'000);
}

void writeTraceConfig(common::JsonWriter& writer, const enrich::TraceConfig& config) {
  writer.StartObject();
  writer.Key("enabled");
  writer.Bool(config.enabled);
  writer.Key("metric_pattern");
  common::writeString(writer, config.metric_pattern);
  writer.Key("label_selectors");
  writeLabels(writer, config.label_selectors);
  writer.Key("max_records");
  writer.Uint64(config.max_records);
  writer.EndObject();
}

http::Response ok(const http::RequestContext& context,
                  const std::function<void(common::JsonWriter&)>& write) {
  return http::jsonResponse(context.request, 200, http::envelopeOkWriting(write));
}

// Sees the record the parser hands the analyzer, and passes it on.
class RecordCapture final : public ingest::LogRecordSink {
 public:
  explicit RecordCapture(training::LogBatchAnalyzer& analyzer) : analyzer_(analyzer) {}
  void onRecord(const ingest::LogRecord& record) override {
    seen = true;
    time_us = record.time_us;
    message = record.message;
    has_kubernetes = record.has_kubernetes;
    pod_name = record.pod_name;
    pod_uid = record.pod_uid;
    namespace_name = record.namespace_name;
    host = record.host;
    analyzer_.onRecord(record);
  }
  void onSkipped(size_t index, ingest::SkipReason reason) override {
    skipped = reason;
    analyzer_.onSkipped(index, reason);
  }

  bool seen = false;
  std::optional<ingest::SkipReason> skipped;
  int64_t time_us = 0;
  std::string message, pod_name, pod_uid, namespace_name, host;
  bool has_kubernetes = false;

 private:
  training::LogBatchAnalyzer& analyzer_;
};

// Words that performance lines carry: a line with one that no format matched is a near miss.
bool looksLikeIterationLine(std::string_view message) {
  for (std::string_view word : {"iteration", "step", "consumed samples", "lm loss", "loss:"}) {
    if (message.find(word) != std::string_view::npos) return true;
  }
  return false;
}

// The formats a near miss comes closest to, best first: what of each it has, and what it lacks.
void writeNearestFormats(common::JsonWriter& writer,
                         const std::vector<training::FormatCandidate>& candidates) {
  writer.Key("nearest_formats");
  writer.StartArray();
  for (const training::FormatCandidate& candidate : candidates) {
    writer.StartObject();
    writer.Key("format");
    common::writeString(writer, candidate.name);
    writer.Key("origin");
    common::writeString(writer, training::patternOriginName(candidate.origin));
    if (candidate.origin == training::PatternOrigin::kStored) {
      writer.Key("pattern_id");
      writer.Int64(candidate.id);
      writer.Key("shadow");
      writer.Bool(candidate.shadow);
    }
    writer.Key("parts_found");
    writer.Uint64(candidate.parts_found);
    writer.Key("parts");
    writer.Uint64(candidate.parts);
    writer.Key("missing");
    common::writeString(writer, candidate.missing);
    if (!candidate.at.empty()) {
      writer.Key("looked_for_at");
      common::writeString(writer, candidate.at);
    }
    writer.EndObject();
  }
  writer.EndArray();
}

void writeSeriesLabels(common::JsonWriter& writer, const training::SeriesLabels& labels) {
  writer.StartObject();
  writer.Key("workload_name");
  common::writeString(writer, labels.workload_name);
  writer.Key("pod_name");
  common::writeString(writer, labels.pod_name);
  writer.Key("namespace");
  common::writeString(writer, labels.namespace_name);
  writer.Key("node");
  common::writeString(writer, labels.node);
  writer.Key("rank");
  common::writeString(writer, labels.rank);
  writer.EndObject();
}

void writeWorkloadKeys(common::JsonWriter& writer, std::string_view workload_uid,
                       std::string_view nearest_uid, std::string_view pod_uid, int64_t time_us) {
  writer.Key("workload_uid");
  common::writeString(writer, workload_uid);
  writer.Key("nearest_workload_uid");
  common::writeString(writer, nearest_uid);
  writer.Key("pod_uid");
  common::writeString(writer, pod_uid);
  writer.Key("time_us");
  writer.Int64(time_us);
}

// The workload_training_* series a record's rows and completed saves become: encoded by the
// training writer's encoder and read back by the decoder storage meets. The run label is the
// serial the database would give the run now (read, not taken).
absl::StatusOr<std::vector<DecodedOutput>> recordSeries(const training::TrainingItems& items,
                                                        const ExplainInput& input) {
  training::RunSerials serials;
  const auto serial_of = [&](std::string_view workload_uid,
                             std::string_view nearest_uid) -> absl::StatusOr<int> {
    if (!serials.loaded(workload_uid)) {
      auto runs = storage::loadRuns(*input.database, workload_uid);
      if (!runs.ok()) return runs.status();
      serials.load(workload_uid, *runs);
    }
    return serials.serialFor(workload_uid, nearest_uid);
  };
  std::vector<training::RowOfRun> rows;
  for (const training::PendingPerformance& row : items.performances) {
    auto serial = serial_of(row.workload_uid, row.nearest_workload_uid);
    if (!serial.ok()) return serial.status();
    rows.push_back({&row, *serial});
  }
  std::vector<training::SaveOfRun> saves;
  for (const training::PendingLifecycle& event : items.lifecycles) {
    const std::optional<int64_t> duration = training::plausibleDuration(event.duration_ms);
    if (event.kind != training::LifecycleKind::kCheckpointSaveEnd || !duration) continue;
    auto serial = serial_of(event.workload_uid, event.nearest_workload_uid);
    if (!serial.ok()) return serial.status();
    saves.push_back({&event, *serial, *duration});
  }
  training::TrainingSeriesEncoder encoder(*input.series, {});
  std::array<prompb::OutputBuffer, 1> lanes;
  std::array<size_t, 1> lane_samples{};
  encoder.encode(rows, saves, lanes, lane_samples);
  OutputCollector collector;
  if (absl::Status decoded = ingest::decodeWriteRequest(
          lanes[0].view(), ingest::RemoteWriteVersion::kV1, collector, nullptr);
      !decoded.ok()) {
    return absl::InternalError(
        common::concat("cannot decode the training series: ", common::message(decoded)));
  }
  return std::move(collector.series());
}

void writeRecordSeries(common::JsonWriter& writer, const training::TrainingItems& items,
                       const ExplainInput& input) {
  if (input.series == nullptr || input.database == nullptr) {
    writer.Key("series_off");
    writer.String(
        "the training series are off: training.series.enabled, or no metricsWrite.endpoints");
    return;
  }
  const auto series = recordSeries(items, input);
  if (!series.ok()) {
    writer.Key("series_error");
    common::writeString(writer, common::message(series.status()));
    return;
  }
  writer.Key("series");
  writeSeriesList(writer, *series);
  const bool unmeasured_save =
      std::any_of(items.lifecycles.begin(), items.lifecycles.end(), [](const auto& event) {
        return event.kind == training::LifecycleKind::kCheckpointSaveEnd &&
               !training::plausibleDuration(event.duration_ms);
      });
  if (unmeasured_save) {
    writer.Key("series_note");
    writer.String(
        "a save whose line prints no duration (or an implausible one) gets "
        "workload_training_checkpoint_seconds when written: end minus the start the database "
        "holds");
  }
}

absl::StatusOr<std::string> explainRecord(const std::string& record, const ExplainInput& input) {
  if (input.extractor == nullptr) return invalid("record: no log analysis here; give a series");
  // One record as json_lines, padded as the logs path pads its bodies.
  std::string padded = record;
  padded.append(ingest::kLogBatchPadding, ' ');
  training::LogBatchAnalyzer analyzer(input.snapshot, *input.extractor, input.client_address,
                                      input.now_ms * 1000);
  RecordCapture capture(analyzer);
  if (absl::Status parsed = ingest::parseLogBatch(std::string_view(padded.data(), record.size()),
                                                  ingest::LogBatchFormat::kJsonLines, {}, capture);
      !parsed.ok()) {
    return invalid(common::concat("record: ", common::message(parsed)));
  }
  const training::TrainingItems& items = analyzer.items();
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("kind");
  writer.String("record");
  writeCache(writer, input.origin);
  if (capture.skipped) {
    writer.Key("analysed");
    writer.Bool(false);
    writer.Key("skipped");
    common::writeString(writer, ingest::kSkipReasonNames[static_cast<size_t>(*capture.skipped)]);
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
  }
  writer.Key("node_label");
  common::writeString(writer, capture.host.empty() ? input.client_address : capture.host);
  writer.Key("message");
  common::writeString(writer, capture.message);
  writer.Key("pod");
  writer.StartObject();
  writer.Key("name");
  common::writeString(writer, capture.pod_name);
  writer.Key("uid");
  common::writeString(writer, capture.pod_uid);
  writer.Key("namespace");
  common::writeString(writer, capture.namespace_name);
  writer.EndObject();
  // The analyzer's own tests, in its order (training/log_batch_analyzer.cpp).
  const char* not_analysed = !capture.has_kubernetes ? "no_kubernetes"
                             : capture.pod_name.find(common::kProcessorName) != std::string::npos
                                 ? "own_pod"
                                 : nullptr;
  writer.Key("analysed");
  writer.Bool(not_analysed == nullptr);
  if (not_analysed != nullptr) {
    writer.Key("not_analysed_reason");
    writer.String(not_analysed);
  } else {
    training::Performance performance;
    bool bad_iteration = false;
    const training::LineKind kind =
        input.extractor->extract(capture.message, &performance, &bad_iteration);
    writer.Key("line_kind");
    common::writeString(writer, training::lineKindName(kind));
    if (kind != training::LineKind::kNone) {
      writer.Key("format");
      common::writeString(writer, performance.format);
      writer.Key("fields");
      training::writePerformanceJson(writer, performance);
    } else if (bad_iteration) {
      writer.Key("near_miss");
      writer.String("a format matched, but its iteration is not an integer that fits int64");
    } else if (looksLikeIterationLine(capture.message)) {
      writer.Key("near_miss");
      common::writeString(
          writer,
          "the line looks like an iteration line, but no format matched it; formats "
          "tried: configured patterns first, then the built-in ones");
      writer.Key("formats");
      writer.StartArray();
      for (std::string_view name : input.extractor->formatNames()) {
        common::writeString(writer, name);
      }
      writer.EndArray();
      writeNearestFormats(writer, input.extractor->nearestFormats(capture.message));
    }
    const cache::WorkloadList* workloads =
        capture.pod_uid.empty() ? nullptr : input.snapshot.workloadsOfPodUid(capture.pod_uid);
    if (kind != training::LineKind::kNone && items.empty()) {
      writer.Key("not_attributed");
      common::writeString(
          writer, workloads == nullptr
                      ? common::concat("pod uid '", capture.pod_uid,
                                       "' (kubernetes.pod_id) has no running workload in the cache")
                      : std::string("no row or event for this kind of line"));
    }
  }
  writer.Key("rows");
  writer.StartArray();
  for (const training::PendingPerformance& row : items.performances) {
    writer.StartObject();
    writeWorkloadKeys(writer, row.workload_uid, row.nearest_workload_uid, row.pod_uid, row.time_us);
    writer.Key("iteration");
    writer.Int64(row.iteration);
    writer.Key("performance");
    writer.RawValue(row.performance_json.data(), row.performance_json.size(),
                    rapidjson::kObjectType);
    writer.Key("series_labels");
    writeSeriesLabels(writer, row.labels);
    writer.EndObject();
  }
  writer.EndArray();
  writer.Key("events");
  writer.StartArray();
  for (const training::PendingStart& start : items.starts) {
    writer.StartObject();
    writer.Key("type");
    writer.String("StartTrain");
    writeWorkloadKeys(writer, start.workload_uid, start.nearest_workload_uid, start.pod_uid,
                      start.time_us);
    writer.EndObject();
  }
  for (const training::PendingLifecycle& event : items.lifecycles) {
    writer.StartObject();
    writer.Key("type");
    common::writeString(writer,
                        training::kLifecycleTypeNames[training::lifecycleIndex(event.kind)]);
    writeWorkloadKeys(writer, event.workload_uid, event.nearest_workload_uid, event.pod_uid,
                      event.time_us);
    if (event.iteration) {
      writer.Key("iteration");
      writer.Int64(*event.iteration);
    }
    if (!event.path.empty()) {
      writer.Key("path");
      common::writeString(writer, event.path);
    }
    if (event.duration_ms) {
      writer.Key("duration_ms");
      writer.Int64(*event.duration_ms);
    }
    writer.Key("series_labels");
    writeSeriesLabels(writer, event.labels);
    writer.EndObject();
  }
  writer.EndArray();
  writeRecordSeries(writer, items, input);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

absl::StatusOr<std::string> explainRequest(std::string_view body, const ExplainInput& input) {
  SeriesInput series;
  std::string record;
  if (absl::Status parsed = parseExplainBody(body, input.now_ms, &series, &record); !parsed.ok()) {
    return parsed;
  }
  if (!record.empty()) return explainRecord(record, input);
  // The series goes the hot path's way: encoded as a remote-write 1.0 body, decoded, enriched.
  std::vector<prompb::LabelPair> pairs;
  for (const auto& [name, value] : series.labels) pairs.push_back({name, value});
  prompb::OutputBuffer request;
  prompb::appendTimeseries(request, pairs, series.samples);
  prompb::OutputBuffer scratch;
  enrich::SeriesEnricher enricher(input.snapshot, scratch, input.limits);
  Capture capture;
  enricher.setObserver(&capture);
  absl::Status refused = ingest::decodeWriteRequest(request.view(), ingest::RemoteWriteVersion::kV1,
                                                    enricher, nullptr);
  if (!refused.ok() && !capture.seen && !absl::IsResourceExhausted(refused)) {
    return invalid(common::message(refused));  // the decoder's word on the series
  }
  OutputCollector collector;
  if (refused.ok()) {
    if (absl::Status decoded = ingest::decodeWriteRequest(
            scratch.view(), ingest::RemoteWriteVersion::kV1, collector, nullptr);
        !decoded.ok()) {
      return absl::InternalError(
          common::concat("cannot decode the enriched series: ", common::message(decoded)));
    }
  }
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writeExplanation(writer, series, capture, collector.series(), refused, input);
  return std::string(buffer.GetString(), buffer.GetSize());
}

absl::StatusOr<enrich::TraceConfig> parseTraceConfig(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (const auto error = parser.parse(body.data(), body.size()).get(document);
      error != simdjson::SUCCESS) {
    return invalid(common::concat("body is not JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return invalid("body must be a JSON object");
  }
  enrich::TraceConfig config;
  config.enabled = true;
  for (auto [key, value] : object) {
    if (key == "enabled") {
      if (value.get_bool().get(config.enabled) != simdjson::SUCCESS) {
        return invalid("enabled: must be true or false");
      }
    } else if (key == "metric_pattern") {
      std::string_view pattern;
      if (value.get_string().get(pattern) != simdjson::SUCCESS) {
        return invalid("metric_pattern: must be a string");
      }
      config.metric_pattern = pattern;
    } else if (key == "label_selectors") {
      simdjson::dom::object selectors;
      if (value.get_object().get(selectors) != simdjson::SUCCESS) {
        return invalid("label_selectors: must be an object of label names to values");
      }
      for (auto [name, selector] : selectors) {
        std::string_view text;
        if (selector.get_string().get(text) != simdjson::SUCCESS) {
          return invalid(common::concat("label_selectors.", name, ": must be a string"));
        }
        config.label_selectors.emplace_back(std::string(name), std::string(text));
      }
    } else if (key == "max_records") {
      int64_t records = 0;
      if (value.get_int64().get(records) != simdjson::SUCCESS || records < 1 ||
          records > static_cast<int64_t>(enrich::kMaxTraceRecords)) {
        return invalid(
            common::concat("max_records: must be an integer from 1 to ", enrich::kMaxTraceRecords));
      }
      config.max_records = static_cast<size_t>(records);
    } else {
      return invalid(common::concat("unknown field '", key, "'"));
    }
  }
  return config;
}

void addDebugRoutes(http::Router& router, const cache::CacheRefresher& cache,
                    enrich::EnrichLimits limits, const training::PatternRegistry& patterns,
                    storage::Database& database, std::optional<config::TrainingSeriesConfig> series,
                    enrich::SeriesTracer& tracer, enrich::ActiveMetrics& active) {
  router.add("/explain", {beast_http::verb::post},
             [&cache, limits, &patterns, &database, series](const http::RequestContext& context) {
               const auto snapshot = cache.snapshot();
               // The patterns the logs path uses now, the database's included.
               const auto extractor = patterns.current();
               const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count();
               auto data =
                   explainRequest(context.request.body(), {.snapshot = *snapshot,
                                                           .origin = cache.origin(),
                                                           .limits = limits,
                                                           .now_ms = now_ms,
                                                           .extractor = extractor.get(),
                                                           .client_address = context.remote_address,
                                                           .database = &database,
                                                           .series = series ? &*series : nullptr});
               if (!data.ok()) {
                 return http::errorResponse(context.request,
                                            absl::IsInvalidArgument(data.status()) ? 400 : 500,
                                            common::message(data.status()));
               }
               return http::jsonResponse(context.request, 200, http::envelopeOk(*data));
             });
  router.add("/metrics/debug/config", {beast_http::verb::post, beast_http::verb::get},
             [&tracer](const http::RequestContext& context) {
               if (context.request.method() == beast_http::verb::post) {
                 auto config = parseTraceConfig(context.request.body());
                 absl::Status status = config.status();
                 if (status.ok()) status = tracer.configure(*std::move(config));
                 if (!status.ok()) {
                   return http::errorResponse(context.request, 400, common::message(status));
                 }
               }
               const enrich::TraceConfig current = tracer.config();
               return ok(context, [&current](common::JsonWriter& writer) {
                 writeTraceConfig(writer, current);
               });
             });
  router.add("/metrics/debug/disable", {beast_http::verb::post},
             [&tracer](const http::RequestContext& context) {
               tracer.disable();
               const enrich::TraceConfig current = tracer.config();
               return ok(context, [&current](common::JsonWriter& writer) {
                 writeTraceConfig(writer, current);
               });
             });
  router.add("/metrics/debug/records", {beast_http::verb::get, beast_http::verb::delete_},
             [&tracer](const http::RequestContext& context) {
               if (context.request.method() == beast_http::verb::delete_) {
                 tracer.clear();
                 return ok(context, [](common::JsonWriter& writer) { writer.String("cleared"); });
               }
               const std::vector<enrich::TraceRecord> records = tracer.records();
               const enrich::TraceStats stats = tracer.stats();
               return ok(context, [&](common::JsonWriter& writer) {
                 writer.StartObject();
                 writer.Key("records");
                 writer.StartArray();
                 for (const enrich::TraceRecord& record : records) {
                   writer.StartObject();
                   writer.Key("timestamp");
                   common::writeString(writer, rfc3339(record.timestamp));
                   writer.Key("metric_name");
                   common::writeString(writer, record.metric_name);
                   writer.Key("labels");
                   writeLabels(writer, record.labels);
                   writer.Key("pod_name");
                   common::writeString(writer, record.pod_name);
                   writer.Key("pod_uid");
                   common::writeString(writer, record.pod_uid);
                   writer.Key("status");
                   writer.String(record.passed ? "passed" : "filtered");
                   writer.Key("reason");
                   common::writeString(writer, record.reason);
                   writer.Key("sample_count");
                   writer.Uint64(record.sample_count);
                   writer.EndObject();
                 }
                 writer.EndArray();
                 writer.Key("stats");
                 writer.StartObject();
                 writer.Key("total_matched");
                 writer.Uint64(stats.total_matched);
                 writer.Key("total_passed");
                 writer.Uint64(stats.total_passed);
                 writer.Key("total_filtered");
                 writer.Uint64(stats.total_filtered);
                 writer.Key("last_update_time");
                 common::writeString(writer, rfc3339(stats.last_update_time));
                 writer.EndObject();
                 writer.EndObject();
               });
             });
  router.add("/metrics/active", {beast_http::verb::get},
             [&active](const http::RequestContext& context) {
               const std::vector<enrich::ActiveMetric> metrics = active.list();
               return ok(context, [&](common::JsonWriter& writer) {
                 uint64_t seen = 0;
                 writer.StartObject();
                 writer.Key("metrics");
                 writer.StartArray();
                 for (const enrich::ActiveMetric& metric : metrics) {
                   seen += metric.seen_count;
                   writer.StartObject();
                   writer.Key("metric_name");
                   common::writeString(writer, metric.name);
                   writer.Key("last_seen_time");
                   common::writeString(writer, rfc3339(metric.last_seen));
                   writer.Key("seen_count");
                   writer.Uint64(metric.seen_count);
                   writer.Key("first_seen_time");
                   common::writeString(writer, rfc3339(metric.first_seen));
                   writer.EndObject();
                 }
                 writer.EndArray();
                 writer.Key("stats");
                 writer.StartObject();
                 writer.Key("total_active_metrics");
                 writer.Uint64(metrics.size());
                 writer.Key("total_seen_count");
                 writer.Uint64(seen);
                 writer.Key("ttl_minutes");
                 writer.Int64(active.options().ttl.count());
                 writer.Key("cleanup_interval_minutes");
                 writer.Int64(active.options().cleanup_interval.count());
                 writer.Key("max_entries");
                 writer.Uint64(active.options().max_entries);
                 writer.Key("untracked_seen_count");
                 writer.Uint64(active.untracked());
                 writer.EndObject();
                 writer.EndObject();
               });
             });
}

}  // namespace tp::app
