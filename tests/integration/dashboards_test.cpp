// The Grafana dashboards of deploy/grafana against a real VictoriaMetrics fed by the real
// processor binary: a Primus run's log lines (start, iterations, checkpoint saves) go to /v1/logs
// as Fluent Bit batches and the GPU series of the workload's devices to /v1/prometheus, against
// a SQLite cluster state that names the workload, its pods and their GPUs. Once the processor
// has delivered everything, every panel query, annotation and variable of every dashboard, its
// variables substituted as Grafana does, must find that data over the run's time range. A
// renamed series or label, or a query VictoriaMetrics refuses, fails here.
// The run was sent at a fixed time long past, so a second processor with a short stall threshold
// finds it stalled at once: it marks the stall with a TrainingStalled event at the stall's time,
// and sends the health series (state, stalled, seconds since progress, goodput, lost time) at
// the wall-clock time of its checks, where the health panels are queried.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>

#include "rapidjson/document.h"
#include "remote_v1.pb.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/fluentbit_records.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/process.h"
#include "support/remote_write_bodies.h"
#include "support/temp_dir.h"
#include "support/victoria_metrics.h"
#include "support/wait.h"

namespace tp {
namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;

constexpr int64_t kStepMs = 30'000;    // an iteration line, and a GPU sample, every 30 s
constexpr int kSteps = 60;             // a 30-minute run
constexpr int64_t kSaveMs = 3'000;     // how long a checkpoint save takes
constexpr int64_t kBatchMs = 300'000;  // what a Fluent Bit batch or a remote-write request spans
constexpr std::array<int, 2> kSaveSteps = {20, 40};

constexpr std::string_view kNamespace = "team";  // where the cluster rows and records put pods
constexpr std::string_view kWorkload = "pretrain-llama";
constexpr std::string_view kWorkloadUid = "w-pretrain-llama";
constexpr int kSerial = 1;
constexpr int kPods = 2;
constexpr int kGpusPerPod = 8;
constexpr int kRanks = kPods * kGpusPerPod;
// The health check: every 100 ms; a run stalls after twice its median interval between logged
// iterations (60 s here), and at least 1 s.
constexpr std::string_view kCheckInterval = "100ms";
constexpr int kStallFactor = 2;
constexpr std::string_view kTrainerSource = "--------trainer.py:2382";
constexpr std::string_view kUtilsSource = "-----------utils.py:401";

std::string podName(int pod) { return "pretrain-llama-worker-" + std::to_string(pod); }
std::string podUid(int pod) { return "uid-worker-" + std::to_string(pod); }
std::string nodeName(int pod) { return std::string("node-") + static_cast<char>('a' + pod); }

// The UTC time `ms` in strftime's `format`.
std::string utc(int64_t ms, const char* format) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[64];
  std::strftime(text, sizeof(text), format, &parts);
  return text;
}

// What Primus puts before each line a rank logs.
std::string primusPrefix(int64_t ms, int rank, std::string_view source) {
  return "[" + utc(ms, "%Y%m%d %H:%M:%S") + "][rank-" + std::to_string(rank) + "/" +
         std::to_string(kRanks) + "][INFO ] [" + std::string(source) + "] : ";
}

// The time Megatron prints at the start of a checkpoint line.
std::string megatronTime(int64_t ms) {
  char millis[16];
  std::snprintf(millis, sizeof(millis), ".%03d000]", static_cast<int>(ms % 1000));
  return "[" + utc(ms, "%Y-%m-%d %H:%M:%S") + millis;
}

// What the last rank prints for iteration `iteration` (Primus HIP layout), every field the
// "Training run" dashboard plots.
std::string hipLine(int64_t ms, int iteration) {
  char line[1024];
  std::snprintf(
      line, sizeof(line),
      " iteration %8d/    1000 | consumed samples: %12d | elapsed time per iteration (ms): "
      "%.1f/%.1f | hip mem usage/free/total/usage_ratio: 120.50GB/71.48GB/191.98GB/62.77%% | "
      "throughput per GPU (TFLOP/s/GPU): %.1f/%.1f | tokens per GPU (tokens/s/GPU): %.1f/%.1f | "
      "learning rate: %E | global batch size:    64 | lm loss: %E | loss scale: 65536.0 | grad "
      "norm: %.3f | num zeros: 0.0 | number of skipped iterations:   0 | number of nan "
      "iterations:   0 |",
      iteration, iteration * 64, 812.4 + iteration % 7, 815.0, 301.2 - iteration % 5, 300.0,
      8042.1 + iteration % 11, 8000.0, 2e-5 * (1 + iteration / 100.0), 7.9 - iteration * 0.05,
      1.0 + 1.0 / iteration);
  return primusPrefix(ms, kRanks - 1, kTrainerSource) + line;
}

// One line of the run: when a pod logged it.
struct LogLine {
  int64_t ms = 0;
  int pod = 0;
  std::string log;
};

int64_t iterationMs(int64_t start_ms, int iteration) {
  return start_ms + (iteration - 1) * kStepMs;
}

// The run as its pods log it: rank 0 (pod 0) starts the training loop and saves the
// checkpoints after iterations 20 and 40, the last rank (pod 1) prints iterations 1..60.
std::vector<LogLine> runLines(int64_t start_ms) {
  std::vector<LogLine> lines;
  const int64_t begin_ms = start_ms - 5'000;
  lines.push_back({begin_ms, 0, primusPrefix(begin_ms, 0, kTrainerSource) + "training ..."});
  for (int iteration = 1; iteration <= kSteps; ++iteration) {
    const int64_t ms = iterationMs(start_ms, iteration);
    lines.push_back({ms, kPods - 1, hipLine(ms, iteration)});
  }
  for (const int iteration : kSaveSteps) {
    char number[16];
    std::snprintf(number, sizeof(number), "%8d", iteration);
    const int64_t save_ms = iterationMs(start_ms, iteration) + 1'000;
    const int64_t saved_ms = save_ms + kSaveMs;
    lines.push_back({save_ms, 0,
                     primusPrefix(save_ms, 0, kUtilsSource) + megatronTime(save_ms) +
                         " saving checkpoint at iteration " + number +
                         " to /ckpt/llama in torch_dist format"});
    lines.push_back({saved_ms, 0,
                     primusPrefix(saved_ms, 0, kUtilsSource) + "  " + megatronTime(saved_ms) +
                         " successfully saved checkpoint from iteration " + number +
                         " to /ckpt/llama [ t 1/8, p 1/1 ]"});
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const LogLine& a, const LogLine& b) { return a.ms < b.ms; });
  return lines;
}

// The Fluent Bit record of `line`, from the node its pod runs on.
std::string recordOf(const LogLine& line) {
  std::string record = testing::fluentBitRecord(podName(line.pod), podUid(line.pod), line.log,
                                                static_cast<double>(line.ms) / 1000);
  const std::string host = R"("host": "node-a")";
  const size_t at = record.find(host);
  EXPECT_NE(at, std::string::npos) << record;
  if (at != std::string::npos) {
    record.replace(at, host.size(), R"("host": ")" + nodeName(line.pod) + "\"");
  }
  return record;
}

// The run's lines as each node's Fluent Bit posts them: a batch per node and kBatchMs, in time
// order.
void postRun(uint16_t port, int64_t start_ms) {
  std::map<std::pair<int64_t, int>, std::vector<std::string>> batches;  // (window, pod)
  for (const LogLine& line : runLines(start_ms)) {
    batches[{(line.ms - start_ms) / kBatchMs, line.pod}].push_back(recordOf(line));
  }
  for (const auto& [window, records] : batches) {
    std::string body = "[";
    for (const std::string& record : records) body += (body.size() > 1 ? ",\n" : "") + record;
    body += "]";
    testing::HttpClient client(port);
    const testing::HttpResult result =
        client.request(http::verb::post, "/v1/logs", body, {{"Content-Type", "application/json"}});
    ASSERT_EQ(result.status, 200u) << result.body;
  }
}

// What the AMD device-metrics exporter of `pod`'s node remote-writes for its GPUs, samples of
// steps [first, last): VRAM in MB, energy in µJ.
::prompb::WriteRequest gpuRequest(int pod, int first, int last, int64_t start_ms) {
  const std::vector<std::pair<std::string, std::function<double(int, int)>>> metrics = {
      {"gpu_utilization", [](int gpu, int step) { return 90.0 - gpu - step % 3; }},
      {"gpu_power_usage", [](int gpu, int step) { return 650.0 + gpu + step % 4; }},
      {"gpu_used_vram", [](int gpu, int) { return 150'000.0 + 100 * gpu; }},
      {"gpu_total_vram", [](int, int) { return 196'592.0; }},
      {"gpu_junction_temperature", [](int gpu, int step) { return 70.0 + gpu % 3 + step % 2; }},
      {"gpu_energy_consumed", [](int gpu, int step) { return (650.0 + gpu) * 1e6 * 30 * step; }},
  };
  ::prompb::WriteRequest request;
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
      for (int step = first; step < last; ++step) {
        auto* sample = series->add_samples();
        sample->set_value(value(gpu, step));
        sample->set_timestamp(start_ms + step * kStepMs);
      }
    }
  }
  return request;
}

// The GPU series of both nodes over the run, as Prometheus sends them: a request per node and
// kBatchMs.
void postGpus(uint16_t port, int64_t start_ms) {
  constexpr int kStepsPerRequest = static_cast<int>(kBatchMs / kStepMs);
  for (int first = 0; first < kSteps; first += kStepsPerRequest) {
    for (int pod = 0; pod < kPods; ++pod) {
      testing::HttpClient client(port);
      const testing::HttpResult result =
          client.request(http::verb::post, "/v1/prometheus",
                         testing::compressedBody(gpuRequest(
                             pod, first, std::min(first + kStepsPerRequest, kSteps), start_ms)),
                         {{"Content-Type", "application/x-protobuf"},
                          {"Content-Encoding", "snappy"},
                          {"X-Prometheus-Remote-Write-Version", "0.1.0"}});
      ASSERT_EQ(result.status, 204u) << result.body;
    }
  }
}

// The cluster the run is on: the PyTorchJob, its two worker pods on nodes a and b, and the
// eight GPUs each pod holds.
void insertCluster(storage::Database& database) {
  testing::insertWorkload(database, std::string(kWorkload), std::string(kWorkloadUid), "",
                          "Running");
  for (int pod = 0; pod < kPods; ++pod) {
    testing::insertPod(database, std::string(kNamespace), podName(pod), podUid(pod), nodeName(pod),
                       true);
    for (int gpu = 0; gpu < kGpusPerPod; ++gpu) {
      testing::insertDevice(database, podUid(pod), "gpu", "card" + std::to_string(gpu),
                            std::to_string(gpu));
    }
    testing::reference(database, std::string(kWorkloadUid), podUid(pod));
  }
}

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The series the health check sends at the time of each check, not at the run's.
bool sentByHealthCheck(const std::string& expr) {
  static const std::regex kHealthSeries(
      R"(\bworkload_training_(state|stalled|seconds_since_progress|goodput_ratio|lost_seconds)\b)");
  return std::regex_search(expr, kHealthSeries);
}

// The processor has written every row and event it accepted, and delivered every batch.
bool settled(uint16_t port) {
  const std::string metrics = testing::httpGet(port, "/metrics");
  return testing::metricValue(metrics, "training_rows_pending").value_or(1) == 0 &&
         testing::metricValue(metrics, R"(remote_write_pending_batches\{[^}]*\})").value_or(1) == 0;
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

struct Series {
  std::map<std::string, std::string> labels;
  std::vector<std::pair<double, std::string>> points;  // time (s), value
};

// The series of a query_range answer; nullopt when it is not a success.
std::optional<std::vector<Series>> seriesOf(const std::string& answer) {
  const rapidjson::Document document = parseJson(answer, "query_range answer");
  if (!document.IsObject() || !document.HasMember("status") ||
      std::string_view(document["status"].GetString()) != "success") {
    return std::nullopt;
  }
  std::vector<Series> all;
  for (const auto& result : document["data"]["result"].GetArray()) {
    Series& series = all.emplace_back();
    for (const auto& label : result["metric"].GetObject()) {
      series.labels[label.name.GetString()] = label.value.GetString();
    }
    for (const auto& point : result["values"].GetArray()) {
      series.points.emplace_back(point[0].GetDouble(), point[1].GetString());
    }
  }
  return all;
}

// The points of a query_range answer, over all its series; -1 when it is not a success.
int pointsOf(const std::string& answer) {
  const auto series = seriesOf(answer);
  if (!series) return -1;
  int points = 0;
  for (const Series& each : *series) points += static_cast<int>(each.points.size());
  return points;
}

struct Query {
  std::string where;  // dashboard and panel, for messages
  std::string panel;
  std::string expr;
};

struct TimeRange {
  int64_t start_s = 0;
  int64_t end_s = 0;
  int64_t step_s = 60;
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
      queries.push_back({dashboard + ": panel '" + title + "'", title, target["expr"].GetString()});
    }
  }
}

class DashboardsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir("tp-dashboards-");
    vm_ = new testing::VictoriaMetrics(dir_->path() / "vm");
    sendRunThroughProcessor();
    testing::httpGet(vm_->port(), "/internal/force_flush");  // all of it searchable
  }
  static void TearDownTestSuite() {
    delete vm_;
    delete dir_;
  }

  // The processor, on the cluster state of insertCluster(), takes the run's logs and GPU series
  // and delivers them to VictoriaMetrics; it is stopped once nothing is pending. Then another
  // one, on the same database, finds the run stalled and sends the health series.
  static void sendRunThroughProcessor() {
    config::DbConfig db;
    db.path = (dir_->path() / "lens.db").string();
    auto database = storage::Database::create(db);
    ASSERT_TRUE(database.ok()) << database.status();
    ASSERT_TRUE(storage::ensureSchema(**database, nullptr).ok());
    insertCluster(**database);

    health_from_ms_ = wallMs();
    std::vector<std::string> env;
    std::vector<std::string> args = testing::databaseFlags(db, &env);
    args.insert(args.end(),
                {"--metricsWrite.endpoints=" + vm_->url(), "--metricsWrite.retryMaxBackoff=300ms",
                 "--cache.refreshInterval=200ms", "--training.flushInterval=20ms",
                 "--training.retryMaxBackoff=200ms",
                 "--training.stall.checkInterval=" + std::string(kCheckInterval)});
    {
      // While the lines arrive, a check sees part of the run, which by the wall clock stopped
      // long ago, and would find a stall at each part's end: no wait is a stall here.
      std::vector<std::string> loading = args;
      loading.push_back("--training.stall.minimum=100000h");
      std::unique_ptr<testing::ChildProcess> processor;
      const uint16_t port = testing::startProcessor(processor, loading, env);
      ASSERT_NE(port, 0);
      postRun(port, kStartMs);
      postGpus(port, kStartMs);
      EXPECT_TRUE(testing::waitFor([port] { return settled(port); }, 120s, 50ms))
          << testing::httpGet(port, "/metrics") << processor->output();
      testing::stopProcessor(*processor);
    }

    args.insert(args.end(), {"--training.stall.minimum=1s",
                             "--training.stall.factor=" + std::to_string(kStallFactor)});
    std::unique_ptr<testing::ChildProcess> processor;
    const uint16_t port = testing::startProcessor(processor, args, env);
    ASSERT_NE(port, 0);
    const auto metric = [port](const std::string& series) {
      return testing::metricValue(testing::httpGet(port, "/metrics"), series).value_or(0);
    };
    // The lease to send the series (the first processor's expires within three check
    // intervals) and the stall recorded.
    EXPECT_TRUE(testing::waitFor(
        [&] {
          return metric("training_health_series_lease") == 1 &&
                 metric(R"(training_health_events_total\{type="TrainingStalled"\})") >= 1;
        },
        120s, 50ms))
        << testing::httpGet(port, "/metrics") << processor->output();
    // The check under way holds the lease and knows of the stall: once it is done, its series
    // are queued.
    const double checks = metric("training_health_checks_total");
    EXPECT_TRUE(testing::waitFor([&] { return metric("training_health_checks_total") > checks; },
                                 60s, 50ms))
        << processor->output();
    EXPECT_TRUE(testing::waitFor([port] { return settled(port); }, 120s, 50ms))
        << testing::httpGet(port, "/metrics") << processor->output();
    testing::stopProcessor(*processor);
  }

  static int64_t endMs() { return kStartMs + kStepMs * (kSteps - 1); }
  // When the run counts as stalled: its last iteration and kStallFactor intervals.
  static int64_t stalledAtMs() { return endMs() + kStallFactor * kStepMs; }

  // The run's series: iterations, saves, GPU samples.
  static TimeRange runRange() { return {kStartMs / 1000, endMs() / 1000 + 60}; }
  // The run's series and its stall.
  static TimeRange eventRange() { return {kStartMs / 1000, stalledAtMs() / 1000 + 120}; }
  // The health series, from the first check until now. At a step below a minute,
  // VictoriaMetrics replaces the value of a point after the current time with the point's before
  // (-search.maxStepForPointsAdjustment), which for a series this young has none.
  static TimeRange healthRange() { return {health_from_ms_ / 1000 - 60, wallMs() / 1000 + 60, 60}; }

  static std::string queryRange(const std::string& expr, const TimeRange& range) {
    return vm_->queryRange(expr, range.start_s, range.end_s, range.step_s);
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

  // Iteration 1 and the first GPU sample, 2025-10-23 12:40:00 UTC: a fixed time (the test's
  // VictoriaMetrics keeps 100 years).
  static constexpr int64_t kStartMs = 1'761'223'200'000;
  static testing::TempDir* dir_;
  static testing::VictoriaMetrics* vm_;
  static int64_t health_from_ms_;  // wall clock before the first check
};

testing::TempDir* DashboardsTest::dir_ = nullptr;
testing::VictoriaMetrics* DashboardsTest::vm_ = nullptr;
int64_t DashboardsTest::health_from_ms_ = 0;

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
  size_t health_queries = 0;
  for (const Query& query : queries) {
    const std::string expr = substitute(query.expr, values_);
    const bool health = sentByHealthCheck(expr);
    health_queries += health ? 1 : 0;
    const std::string answer = queryRange(expr, health ? healthRange() : runRange());
    EXPECT_GT(pointsOf(answer), 0) << query.where << "\n  " << expr << "\n  " << answer;
  }
  EXPECT_GE(health_queries, 5u);
}

// The health panels show the run as the second processor found it: stalled.
TEST_F(DashboardsTest, TheHealthPanelsShowTheRunStalled) {
  std::vector<Query> queries;
  const rapidjson::Document dashboard =
      load(std::filesystem::path(TP_GRAFANA_DIR) / "training-run.json");
  collectPanelQueries(dashboard["panels"], dashboard["title"].GetString(), queries);
  const auto seriesOfPanel = [&](std::string_view title) -> std::vector<Series> {
    const auto query = std::find_if(queries.begin(), queries.end(),
                                    [&](const Query& each) { return each.panel == title; });
    if (query == queries.end()) {
      ADD_FAILURE() << "no panel '" << title << "'";
      return {};
    }
    const std::string answer = queryRange(substitute(query->expr, values_), healthRange());
    auto series = seriesOf(answer);
    EXPECT_TRUE(series) << query->where << "\n  " << answer;
    return series.value_or(std::vector<Series>{});
  };

  // Run state: at its last point, the one current state is stalled.
  const std::vector<Series> states = seriesOfPanel("Run state");
  double last_s = 0;
  for (const Series& series : states) {
    if (!series.points.empty()) last_s = std::max(last_s, series.points.back().first);
  }
  std::vector<std::string> current;
  for (const Series& series : states) {
    if (!series.points.empty() && series.points.back().first == last_s) {
      current.push_back(series.labels.at("state"));
    }
  }
  EXPECT_THAT(current, ::testing::ElementsAre("stalled"));

  const std::vector<Series> stalled = seriesOfPanel("Stalled");
  ASSERT_EQ(stalled.size(), 1u);
  ASSERT_FALSE(stalled.front().points.empty());
  EXPECT_EQ(stalled.front().points.back().second, "1");
}

// The annotation queries of a dashboard (Grafana's built-in one has none), by name.
std::map<std::string, std::string> annotationQueries(const rapidjson::Document& dashboard) {
  std::map<std::string, std::string> queries;
  for (const auto& annotation : dashboard["annotations"]["list"].GetArray()) {
    if (!annotation.HasMember("expr")) continue;
    const std::string name = annotation["name"].GetString();
    EXPECT_EQ(std::string_view(annotation["datasource"]["uid"].GetString()), "${datasource}")
        << name;
    // A one-minute step and a one-minute window: each sample is in one point.
    EXPECT_EQ(std::string_view(annotation["step"].GetString()), "1m") << name;
    queries[name] = annotation["expr"].GetString();
  }
  return queries;
}

TEST_F(DashboardsTest, TheAnnotationsAreTheSavesAndTheHealthEvents) {
  std::vector<std::string> names;
  for (const auto& file : dashboards()) {
    for (const auto& [name, expr] : annotationQueries(load(file))) names.push_back(name);
  }
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("Checkpoint saves", "Health events"));
}

// Each completed save is one annotation, however long the run.
TEST_F(DashboardsTest, TheCheckpointAnnotationMarksEachSaveOnce) {
  const auto queries =
      annotationQueries(load(std::filesystem::path(TP_GRAFANA_DIR) / "training-run.json"));
  ASSERT_TRUE(queries.contains("Checkpoint saves"));
  const std::string expr = substitute(queries.at("Checkpoint saves"), values_);
  const std::string answer = queryRange(expr, runRange());
  EXPECT_EQ(pointsOf(answer), static_cast<int>(kSaveSteps.size())) << expr << "\n  " << answer;
}

// The stall is one TrainingStalled annotation, at the time the run became stalled, whichever
// checks saw it.
TEST_F(DashboardsTest, TheHealthEventAnnotationMarksTheStallOnce) {
  const auto queries =
      annotationQueries(load(std::filesystem::path(TP_GRAFANA_DIR) / "training-run.json"));
  ASSERT_TRUE(queries.contains("Health events"));
  const std::string expr = substitute(queries.at("Health events"), values_);
  const std::string answer = queryRange(expr, eventRange());
  const auto series = seriesOf(answer);
  ASSERT_TRUE(series) << expr << "\n  " << answer;
  ASSERT_EQ(series->size(), 1u) << expr << "\n  " << answer;
  EXPECT_THAT(series->front().labels,
              ::testing::Contains(::testing::Pair("type", "TrainingStalled")))
      << answer;
  ASSERT_EQ(series->front().points.size(), 1u) << answer;
  // The point of the minute the event's sample falls in.
  const auto at_ms = static_cast<int64_t>(series->front().points.front().first * 1000);
  EXPECT_GE(at_ms, stalledAtMs()) << answer;
  EXPECT_LT(at_ms, stalledAtMs() + 60'000) << answer;
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
                                            "&start=" + std::to_string(runRange().start_s) +
                                            "&end=" + std::to_string(runRange().end_s));
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
