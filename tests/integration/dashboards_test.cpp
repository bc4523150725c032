// The Grafana dashboards of deploy/grafana against a real VictoriaMetrics: a training run's log
// lines go through the extractor and the training series encoder, a workload's GPU series
// through the enricher, both by remote write; then every panel query, annotation and variable
// of every dashboard, its variables substituted as Grafana does, must find that data over the
// run's time range. A renamed series or label, or a query VictoriaMetrics refuses, fails here.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "enrich/series_enricher.h"
#include "ingest/remote_write/write_request.h"
#include "rapidjson/document.h"
#include "remote_v1.pb.h"
#include "support/http_client.h"
#include "support/temp_dir.h"
#include "support/victoria_metrics.h"
#include "telemetry/telemetry.h"
#include "training/performance_extractor.h"
#include "training/training_series.h"

namespace tp {
namespace {

namespace http = boost::beast::http;

constexpr int64_t kStartMs = 1761223152000;  // 2025-10-23 12:39:12 UTC
constexpr int64_t kStepMs = 30'000;          // a line, and a GPU sample, every 30 s
constexpr int kSteps = 60;                   // a 30-minute run
constexpr int64_t kEndMs = kStartMs + kStepMs * (kSteps - 1);
constexpr std::array<int, 2> kSaveSteps = {20, 40};

constexpr std::string_view kNamespace = "team-llm";
constexpr std::string_view kWorkload = "pretrain-llama";
constexpr std::string_view kWorkloadUid = "w-pretrain-llama";
constexpr int kSerial = 1;
constexpr int kPods = 2;
constexpr int kGpusPerPod = 8;

std::string podName(int pod) { return "pretrain-llama-worker-" + std::to_string(pod); }
std::string podUid(int pod) { return "uid-worker-" + std::to_string(pod); }
std::string nodeName(int pod) { return "gpu-node-" + std::to_string(pod); }

// What the last rank prints for iteration `iteration` (Primus HIP layout).
std::string hipLine(int iteration) {
  char line[1024];
  std::snprintf(
      line, sizeof(line),
      "[20251023 12:39:12][rank-15/16][INFO ] [--------trainer.py:2382] :  iteration %8d/    "
      "1000 | consumed samples: %12d | elapsed time per iteration (ms): %.1f/%.1f | hip mem "
      "usage/free/total/usage_ratio: 120.50GB/71.48GB/191.98GB/62.77%% | throughput per GPU "
      "(TFLOP/s/GPU): %.1f/%.1f | tokens per GPU (tokens/s/GPU): %.1f/%.1f | learning rate: "
      "%E | global batch size:    64 | lm loss: %E | loss scale: 65536.0 | grad norm: %.3f | "
      "num zeros: 0.0 | number of skipped iterations:   0 | number of nan iterations:   0 |",
      iteration, iteration * 64, 812.4 + iteration % 7, 815.0, 301.2 - iteration % 5, 300.0,
      8042.1 + iteration % 11, 8000.0, 2e-5 * (1 + iteration / 100.0), 7.9 - iteration * 0.05,
      1.0 + 1.0 / iteration);
  return line;
}

training::SeriesLabels labelsOf(int pod, std::string rank) {
  return {.workload_name = std::string(kWorkload),
          .pod_name = podName(pod),
          .namespace_name = std::string(kNamespace),
          .node = nodeName(pod),
          .rank = std::move(rank)};
}

void remoteWrite(uint16_t port, std::string_view request) {
  std::string compressed;
  snappy::Compress(request.data(), request.size(), &compressed);
  testing::HttpClient client(port);
  const testing::HttpResult result =
      client.request(http::verb::post, "/api/v1/write", compressed,
                     {{"Content-Type", "application/x-protobuf"},
                      {"Content-Encoding", "snappy"},
                      {"X-Prometheus-Remote-Write-Version", "0.1.0"}});
  ASSERT_EQ(result.status, 204u) << result.body;
}

// The run as the logs path hands it to the training writer: one performance row per line of
// the last rank of pod 1, and two completed checkpoint saves; encoded ten rows per batch.
void sendTrainingRun(uint16_t port) {
  const training::PerformanceExtractor extractor;
  std::vector<training::PendingPerformance> rows;
  for (int step = 0; step < kSteps; ++step) {
    training::Performance performance;
    const std::string line = hipLine(step + 1);
    ASSERT_EQ(extractor.extract(line, &performance), training::LineKind::kPerformance) << line;
    rapidjson::StringBuffer document;
    common::JsonWriter writer(document);
    training::writePerformanceJson(writer, performance);
    rows.push_back({.workload_uid = std::string(kWorkloadUid),
                    .nearest_workload_uid = std::string(kWorkloadUid),
                    .pod_uid = podUid(1),
                    .performance_json = document.GetString(),
                    .iteration = step + 1,
                    .time_us = (kStartMs + step * kStepMs) * 1000,
                    .labels = labelsOf(1, "15")});
  }
  // Each save ends with the batch that holds its step's row.
  std::vector<training::PendingLifecycle> save_ends;
  for (const int step : kSaveSteps) {
    save_ends.push_back({.workload_uid = std::string(kWorkloadUid),
                         .nearest_workload_uid = std::string(kWorkloadUid),
                         .pod_uid = podUid(0),
                         .kind = training::LifecycleKind::kCheckpointSaveEnd,
                         .iteration = step,
                         .path = "/ckpt/iter_" + std::to_string(step),
                         .duration_ms = 41'250,
                         .time_us = (kStartMs + step * kStepMs + 5'000) * 1000,
                         .labels = labelsOf(0, "0")});
  }

  telemetry::Telemetry telemetry("test");
  training::TrainingSeriesEncoder encoder({}, telemetry.trainingSeriesMetrics());
  constexpr int kRowsPerBatch = 10;
  for (int first = 0; first < kSteps; first += kRowsPerBatch) {
    std::vector<training::RowOfRun> batch;
    for (int step = first; step < first + kRowsPerBatch; ++step) {
      batch.push_back({&rows[static_cast<size_t>(step)], kSerial});
    }
    std::vector<training::SaveOfRun> saves;
    for (size_t save = 0; save < kSaveSteps.size(); ++save) {
      if (kSaveSteps[save] >= first && kSaveSteps[save] < first + kRowsPerBatch) {
        saves.push_back({&save_ends[save], kSerial, *save_ends[save].duration_ms});
      }
    }
    std::array<prompb::OutputBuffer, 2> lanes;
    std::array<size_t, 2> lane_samples{};
    encoder.encode(batch, saves, lanes, lane_samples);
    for (const prompb::OutputBuffer& lane : lanes) {
      if (lane.size() > 0) remoteWrite(port, lane.view());
    }
  }
}

// What the GPU exporters of the workload's two nodes remote-write, through the metrics path's
// enricher: AMD device-metrics-exporter names, VRAM in MB, energy in µJ.
void sendWorkloadGpus(uint16_t port) {
  cache::SnapshotBuilder cluster;
  for (int pod = 0; pod < kPods; ++pod) {
    for (int gpu = 0; gpu < kGpusPerPod; ++gpu) {
      cluster.addDevice({nodeName(pod), podName(pod), podUid(pod), "gpu", "", gpu});
    }
    cluster.addWorkloadPod(
        {podName(pod), podUid(pod), std::string(kWorkload), std::string(kWorkloadUid), ""});
  }
  const auto snapshot = cluster.build();

  ::prompb::WriteRequest request;
  const std::vector<std::pair<std::string, std::function<double(int, int)>>> metrics = {
      {"gpu_utilization", [](int gpu, int step) { return 90.0 - gpu - step % 3; }},
      {"gpu_power_usage", [](int gpu, int step) { return 650.0 + gpu + step % 4; }},
      {"gpu_used_vram", [](int gpu, int) { return 150'000.0 + 100 * gpu; }},
      {"gpu_total_vram", [](int, int) { return 196'592.0; }},
      {"gpu_junction_temperature", [](int gpu, int step) { return 70.0 + gpu % 3 + step % 2; }},
      {"gpu_energy_consumed", [](int gpu, int step) { return (650.0 + gpu) * 1e6 * 30 * step; }},
  };
  for (int pod = 0; pod < kPods; ++pod) {
    for (int gpu = 0; gpu < kGpusPerPod; ++gpu) {
      for (const auto& [name, value] : metrics) {
        auto* series = request.add_timeseries();
        for (const auto& [label, label_value] : std::vector<std::pair<std::string, std::string>>{
                 {"__name__", name},
                 {"gpu_id", std::to_string(gpu)},
                 {"job", "amd-device-metrics"},
                 {"primus_lens_node_name", nodeName(pod)}}) {
          auto* added = series->add_labels();
          added->set_name(label);
          added->set_value(label_value);
        }
        for (int step = 0; step < kSteps; ++step) {
          auto* sample = series->add_samples();
          sample->set_value(value(gpu, step));
          sample->set_timestamp(kStartMs + step * kStepMs);
        }
      }
    }
  }
  prompb::OutputBuffer out;
  enrich::SeriesEnricher enricher(*snapshot, out);
  ASSERT_TRUE(ingest::decodeWriteRequest(request.SerializeAsString(),
                                         ingest::RemoteWriteVersion::kV1, enricher, nullptr)
                  .ok());
  ASSERT_EQ(enricher.counts().series_out, static_cast<size_t>(request.timeseries_size()));
  remoteWrite(port, out.view());
}

// `$name` and `${name}` replaced as Grafana does for a single value; an unknown variable fails.
std::string substitute(std::string_view text, const std::map<std::string, std::string>& values) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '$') {
      out.push_back(text[i++]);
      continue;
    }
    size_t begin = i + 1;
    size_t end = begin;
    const bool braced = begin < text.size() && text[begin] == '{';
    if (braced) {
      end = text.find('}', ++begin);
    } else {
      while (end < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) {
        ++end;
      }
    }
    const std::string name(text.substr(begin, end - begin));
    const auto value = values.find(name);
    EXPECT_NE(value, values.end()) << "unknown variable $" << name << " in " << text;
    if (value != values.end()) out += value->second;
    i = braced ? end + 1 : end;
  }
  return out;
}

rapidjson::Document parseJson(const std::string& text, const std::string& what) {
  rapidjson::Document document;
  document.Parse(text.c_str());
  EXPECT_FALSE(document.HasParseError()) << what << " is not JSON: " << text.substr(0, 200);
  return document;
}

// The points of a query_range answer, over all its series; -1 when it is not a success.
int pointsOf(const std::string& answer) {
  const rapidjson::Document document = parseJson(answer, "query_range answer");
  if (!document.IsObject() || !document.HasMember("status") ||
      std::string_view(document["status"].GetString()) != "success") {
    return -1;
  }
  int points = 0;
  for (const auto& series : document["data"]["result"].GetArray()) {
    points += static_cast<int>(series["values"].GetArray().Size());
  }
  return points;
}

struct Query {
  std::string where;  // dashboard and panel, for messages
  std::string expr;
  int64_t step_seconds = 60;
};

void collectPanelQueries(const rapidjson::Value& panels, const std::string& dashboard,
                         std::vector<Query>& queries) {
  for (const auto& panel : panels.GetArray()) {
    const std::string title = panel.HasMember("title") ? panel["title"].GetString() : "?";
    if (panel.HasMember("panels")) collectPanelQueries(panel["panels"], dashboard, queries);
    if (!panel.HasMember("targets")) {
      EXPECT_EQ(std::string_view(panel["type"].GetString()), "row")
          << dashboard << ": panel '" << title << "' has no query";
      continue;
    }
    for (const auto& target : panel["targets"].GetArray()) {
      EXPECT_EQ(std::string_view(target["datasource"]["uid"].GetString()), "${datasource}")
          << dashboard << ": panel '" << title << "' does not use the datasource variable";
      queries.push_back({dashboard + ": panel '" + title + "'", target["expr"].GetString()});
    }
  }
}

class DashboardsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir("tp-dashboards-");
    vm_ = new testing::VictoriaMetrics(dir_->path() / "vm");
    sendTrainingRun(vm_->port());
    sendWorkloadGpus(vm_->port());
    testing::httpGet(vm_->port(), "/internal/force_flush");
  }
  static void TearDownTestSuite() {
    delete vm_;
    delete dir_;
  }

  static std::string queryRange(const std::string& expr, int64_t step_seconds) {
    return vm_->queryRange(expr, kStartMs / 1000, kEndMs / 1000 + 60, step_seconds);
  }

  static std::vector<std::filesystem::path> dashboards() {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(TP_GRAFANA_DIR)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  static rapidjson::Document load(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return parseJson(text.str(), file.filename().string());
  }

  // What the variables of both dashboards are set to: the run sent above.
  const std::map<std::string, std::string> values_ = {
      {"namespace", std::string(kNamespace)},
      {"workload", std::string(kWorkload)},
      {"run", std::to_string(kSerial)},
      {"pod", podName(1)},
      {"__interval", "1m"},
      {"__rate_interval", "2m"},
  };

  static testing::TempDir* dir_;
  static testing::VictoriaMetrics* vm_;
};

testing::TempDir* DashboardsTest::dir_ = nullptr;
testing::VictoriaMetrics* DashboardsTest::vm_ = nullptr;

TEST_F(DashboardsTest, BothDashboardsAreThere) {
  std::vector<std::string> titles;
  for (const auto& file : dashboards()) titles.push_back(load(file)["title"].GetString());
  EXPECT_THAT(titles, ::testing::UnorderedElementsAre("Training run", "Workload GPU"));
}

TEST_F(DashboardsTest, EveryPanelQueryFindsTheRun) {
  std::vector<Query> queries;
  for (const auto& file : dashboards()) {
    const rapidjson::Document dashboard = load(file);
    collectPanelQueries(dashboard["panels"], dashboard["title"].GetString(), queries);
  }
  ASSERT_GE(queries.size(), 20u);
  for (const Query& query : queries) {
    const std::string expr = substitute(query.expr, values_);
    const std::string answer = queryRange(expr, query.step_seconds);
    EXPECT_GT(pointsOf(answer), 0) << query.where << "\n  " << expr << "\n  " << answer;
  }
}

// Each completed save is one annotation, however long the run.
TEST_F(DashboardsTest, TheCheckpointAnnotationMarksEachSaveOnce) {
  size_t annotations = 0;
  for (const auto& file : dashboards()) {
    const rapidjson::Document dashboard = load(file);
    for (const auto& annotation : dashboard["annotations"]["list"].GetArray()) {
      if (!annotation.HasMember("expr")) continue;  // Grafana's built-in one
      ++annotations;
      EXPECT_EQ(std::string_view(annotation["datasource"]["uid"].GetString()), "${datasource}");
      const std::string step = annotation["step"].GetString();
      ASSERT_EQ(step, "1m");
      const std::string expr = substitute(annotation["expr"].GetString(), values_);
      const std::string answer = queryRange(expr, 60);
      EXPECT_EQ(pointsOf(answer), static_cast<int>(kSaveSteps.size())) << expr << "\n  " << answer;
    }
  }
  EXPECT_EQ(annotations, 1u);
}

// label_values(selector, label): the value the test sets the variable to is among its options.
TEST_F(DashboardsTest, EveryVariableOffersTheRun) {
  const std::regex with_selector(R"(^label_values\((.*),\s*(\w+)\)$)");
  size_t variables = 0;
  for (const auto& file : dashboards()) {
    const rapidjson::Document dashboard = load(file);
    for (const auto& variable : dashboard["templating"]["list"].GetArray()) {
      const std::string name = variable["name"].GetString();
      const std::string type = variable["type"].GetString();
      if (type == "datasource") {
        EXPECT_EQ(std::string_view(variable["query"].GetString()), "prometheus");
        continue;
      }
      ASSERT_EQ(type, "query") << name;
      ++variables;
      const std::string definition = variable["query"].GetString();
      std::smatch parts;
      ASSERT_TRUE(std::regex_match(definition, parts, with_selector)) << definition;
      const std::string selector = substitute(parts[1].str(), values_);
      const std::string answer =
          testing::httpGet(vm_->port(), "/api/v1/label/" + parts[2].str() +
                                            "/values?match[]=" + testing::urlEncode(selector) +
                                            "&start=" + std::to_string(kStartMs / 1000) +
                                            "&end=" + std::to_string(kEndMs / 1000 + 60));
      const rapidjson::Document options = parseJson(answer, "label values of " + name);
      ASSERT_TRUE(options.IsObject() && options.HasMember("data")) << answer;
      std::vector<std::string> offered;
      for (const auto& option : options["data"].GetArray()) offered.push_back(option.GetString());
      EXPECT_THAT(offered, ::testing::Contains(values_.at(name))) << definition;
    }
  }
  EXPECT_EQ(variables, 5u);
}

}  // namespace
}  // namespace tp
