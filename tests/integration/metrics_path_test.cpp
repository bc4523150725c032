// The metrics path end to end with real programs on loopback: Prometheus and vmagent scrape an
// exporter and remote-write to the processor, which enriches against its SQLite cluster state
// and forwards to a real VictoriaMetrics; and malformed bodies against the real binary.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <snappy.h>
#include <zstd.h>

#include <fstream>
#include <iostream>

#include "http/server.h"
#include "remote_v1.pb.h"
#include "remote_v2.pb.h"
#include "soci/soci.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "support/database_servers.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/victoria_metrics.h"
#include "support/wait.h"

namespace tp {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::HttpClient;
using testing::httpGet;

::testing::AssertionResult installed(const std::string& path, const std::string& package) {
  if (std::filesystem::exists(path)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << path << " not found: install the Debian package " << package;
}

// A cluster in SQLite: node-a GPU 0 belongs to train-0 of PyTorchJob "pretrain".
void writeCluster(const std::string& path) {
  config::DbConfig db;
  db.path = path;
  auto database = std::move(*storage::Database::create(db));
  ASSERT_TRUE(storage::ensureSchema(*database, nullptr).ok());
  ASSERT_TRUE(
      database
          ->run([](soci::session& sql) {
            sql << "INSERT INTO gpu_pods (namespace, name, node_name, uid, running) "
                   "VALUES ('team', 'train-0', 'node-a', 'pod-uid-0', TRUE)";
            sql << "INSERT INTO node_container (container_id, pod_uid, pod_name, node_name) "
                   "VALUES ('c0', 'pod-uid-0', 'train-0', 'node-a')";
            sql << "INSERT INTO node_container_devices (container_id, device_type, "
                   "device_name, device_no) VALUES ('c0', 'gpu', 'card0', 0)";
            sql << "INSERT INTO gpu_workload (kind, name, uid, parent_uid, status) VALUES "
                   "('PyTorchJob', 'pretrain', 'wl-uid-0', '', 'Running')";
            sql << "INSERT INTO workload_pod_reference (workload_uid, pod_uid) VALUES "
                   "('wl-uid-0', 'pod-uid-0')";
          })
          .ok());
}

// Serves Prometheus text: one GPU series of the training pod, one idle GPU, one node series.
class Exporter {
 public:
  Exporter() : telemetry_("exporter"), router_(telemetry_) {
    router_.add("/metrics", {}, [](const http::RequestContext& ctx) {
      return http::textResponse(ctx.request, 200, "text/plain; version=0.0.4",
                                "# TYPE gpu_utilization gauge\n"
                                "gpu_utilization{gpu_id=\"0\"} 55\n"
                                "gpu_utilization{gpu_id=\"7\"} 3\n"
                                "# TYPE node_load1 gauge\n"
                                "node_load1 0.5\n");
    });
    server_ = std::move(
        *http::Server::create({.address = "127.0.0.1", .port = 0, .threads = 1}, router_));
    server_->start();
  }
  uint16_t port() const { return server_->localEndpoint().port(); }

 private:
  telemetry::Telemetry telemetry_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
};

class MetricsPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vm_ = std::make_unique<testing::VictoriaMetrics>(dir_ / "vm");
    ASSERT_NO_FATAL_FAILURE(writeCluster((dir_ / "lens.db").string()));
    startProcessor();
  }

  void startProcessor(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--db.path=" + (dir_ / "lens.db").string(), "--queue.dir=" + (dir_ / "queue").string(),
        "--metricsWrite.endpoints=" + vm_->url(), "--metricsWrite.retryMaxBackoff=500ms",
        "--http.maxDecodedBytes=1MiB"};
    args.insert(args.end(), extra.begin(), extra.end());
    processor_port_ = testing::startProcessor(processor_, args);
    ASSERT_NE(processor_port_, 0);
  }

  void TearDown() override {
    if (processor_) testing::stopProcessor(*processor_);
  }

  std::string scrapeConfig(uint16_t exporter_port) const {
    return "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: gpu\n"
           "    static_configs:\n      - targets: ['127.0.0.1:" +
           std::to_string(exporter_port) +
           "']\n    relabel_configs:\n      - target_label: primus_lens_node_name\n"
           "        replacement: node-a\n";
  }

  // The enriched series as VictoriaMetrics stored it, once it is there.
  std::string waitForWorkloadSeries() {
    std::string exported;
    testing::waitFor(
        [&] {
          exported = vm_->exportSeries(R"({__name__=~"workload_.*"})");
          return exported.find("workload_gpu_utilization") != std::string::npos;
        },
        90s);
    return exported;
  }

  void expectEnriched(const std::string& exported) {
    EXPECT_THAT(exported, HasSubstr(R"("__name__":"workload_gpu_utilization")"));
    EXPECT_THAT(exported, HasSubstr(R"("workload_name":"pretrain")"));
    EXPECT_THAT(exported, HasSubstr(R"("workload_uid":"wl-uid-0")"));
    EXPECT_THAT(exported, HasSubstr(R"("pod_name":"train-0")"));
    EXPECT_THAT(exported, HasSubstr(R"("job":"primus-lens-telemetry-processor")"));
    EXPECT_THAT(exported, HasSubstr("55"));
    // Idle GPU and node series have no pod: not forwarded by this path.
    EXPECT_THAT(exported, ::testing::Not(HasSubstr(R"("gpu_id":"7")")));
    EXPECT_THAT(exported, ::testing::Not(HasSubstr("workload_node_load1")));
  }

  testing::TempDir dir_;
  uint16_t processor_port_ = 0;
  std::unique_ptr<testing::VictoriaMetrics> vm_;
  std::unique_ptr<ChildProcess> processor_;
};

TEST_F(MetricsPathTest, PrometheusToProcessorToVictoriaMetrics) {
  ASSERT_TRUE(installed("/usr/bin/prometheus", "prometheus"));
  Exporter exporter;
  std::ofstream(dir_ / "prometheus.yml")
      << scrapeConfig(exporter.port())
      << "remote_write:\n  - url: http://127.0.0.1:" << processor_port_
      << "/v1/prometheus\n    queue_config:\n      batch_send_deadline: 1s\n";
  ChildProcess prometheus(
      "/usr/bin/prometheus",
      {"--config.file=" + (dir_ / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir_ / "prom").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(testing::freeLoopbackPort()),
       "--log.level=warn"});
  expectEnriched(waitForWorkloadSeries());
  EXPECT_GT(testing::metricValue(httpGet(processor_port_, "/metrics"),
                                 R"(remote_write_dropped_series_total\{reason="no_pod"\})"),
            0);
}

TEST_F(MetricsPathTest, VmagentToProcessorToVictoriaMetrics) {
  ASSERT_TRUE(installed("/usr/bin/vmagent", "victoria-metrics"));
  Exporter exporter;
  std::ofstream(dir_ / "scrape.yml") << scrapeConfig(exporter.port());
  ChildProcess vmagent(
      "/usr/bin/vmagent",
      {"-promscrape.config=" + (dir_ / "scrape.yml").string(),
       "-remoteWrite.url=http://127.0.0.1:" + std::to_string(processor_port_) + "/api/v1/write",
       "-remoteWrite.tmpDataPath=" + (dir_ / "vmagent").string(),
       "-httpListenAddr=127.0.0.1:" + std::to_string(testing::freeLoopbackPort()),
       "-remoteWrite.flushInterval=500ms", "-loggerLevel=ERROR"});
  expectEnriched(waitForWorkloadSeries());
}

// The training pod's GPU 0, as a scrape with the platform's relabeling would label it; `padding`
// adds a label of that many bytes that does not compress.
std::string gpuRequest(double value, int64_t timestamp_ms, size_t padding = 0) {
  prompb::WriteRequest request;
  auto* series = request.add_timeseries();
  for (const auto& [name, label_value] : std::vector<std::pair<std::string, std::string>>{
           {"__name__", "gpu_utilization"}, {"gpu_id", "0"}, {"primus_lens_node_name", "node-a"}}) {
    auto* label = series->add_labels();
    label->set_name(name);
    label->set_value(label_value);
  }
  if (padding > 0) {
    auto* label = series->add_labels();
    label->set_name("zz_padding");
    std::string text(padding, 'a');
    uint32_t state = static_cast<uint32_t>(timestamp_ms);
    for (char& c : text) c = static_cast<char>('a' + (state = state * 1103515245 + 12345) % 26);
    label->set_value(text);
  }
  auto* sample = series->add_samples();
  sample->set_value(value);
  sample->set_timestamp(timestamp_ms);
  return request.SerializeAsString();
}

std::string snappyOf(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

std::string validRequest() {
  prompb::WriteRequest request;
  auto* series = request.add_timeseries();
  auto* label = series->add_labels();
  label->set_name("__name__");
  label->set_value("up");
  series->add_samples()->set_value(1);
  return request.SerializeAsString();
}

testing::HttpResult remoteWrite(uint16_t port, const std::string& raw) {
  testing::HttpClient client(port);
  return client.request(boost::beast::http::verb::post, "/v1/prometheus", snappyOf(raw),
                        {{"Content-Type", "application/x-protobuf"},
                         {"Content-Encoding", "snappy"},
                         {"X-Prometheus-Remote-Write-Version", "0.1.0"}});
}

TEST_F(MetricsPathTest, QueuedBatchesOutliveAStorageOutageAndAProcessorRestart) {
  vm_->stop();
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(remoteWrite(processor_port_, gpuRequest(10 + i, now_ms - 5000 + i * 1000)).status,
              204u);
  }
  ASSERT_TRUE(testing::waitFor(
      [this] {
        return testing::metricValue(httpGet(processor_port_, "/metrics"),
                                    R"(remote_write_send_network_errors_total\{[^}]+\})") > 0;
      },
      20s));
  testing::stopProcessor(*processor_);  // storage still down: the batches stay queued
  processor_.reset();
  vm_->start();
  ASSERT_NO_FATAL_FAILURE(startProcessor());
  ASSERT_TRUE(processor_->waitForOutput("resuming [0-9]+ queued batches \\(5 samples\\)", 10s))
      << processor_->output();
  std::string exported;
  EXPECT_TRUE(testing::waitFor(
      [&] {
        exported = vm_->exportSeries("workload_gpu_utilization");
        return exported.find("[10,11,12,13,14]") != std::string::npos;
      },
      60s))
      << exported;
  EXPECT_THAT(exported, HasSubstr(R"("workload_uid":"wl-uid-0")"));
}

TEST_F(MetricsPathTest, FullQueueAnswers503WithRetryAfter) {
  vm_->stop();
  testing::stopProcessor(*processor_);
  ASSERT_NO_FATAL_FAILURE(startProcessor({"--queue.maxDiskUsage=1MiB"}));
  unsigned status = 0;
  testing::HttpResult result;
  for (int i = 0; i < 200 && status != 503; ++i) {
    result = remoteWrite(processor_port_, gpuRequest(1, 1'700'000'000'000 + i, 48 << 10));
    status = result.status;
    ASSERT_TRUE(status == 204 || status == 503) << result.body;
  }
  ASSERT_EQ(status, 503u);
  EXPECT_EQ(result.headers["Retry-After"], "5");
  EXPECT_THAT(result.body, HasSubstr("queue.maxDiskUsage"));
  EXPECT_GT(testing::metricValue(httpGet(processor_port_, "/metrics"),
                                 R"(remote_write_rejected_requests_total\{status="503"\})"),
            0);
  uint64_t on_disk = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_ / "queue")) {
    if (entry.is_regular_file()) on_disk += entry.file_size();
  }
  EXPECT_LE(on_disk, (1u << 20) + 4096);
}

TEST_F(MetricsPathTest, MalformedBodiesGetTheirStatusAndReasonAndTheServerStaysUp) {
  const std::string valid = validRequest();
  const std::string big(2 << 20, 'a');
  std::string zstd_big(ZSTD_compressBound(big.size()), '\0');
  zstd_big.resize(ZSTD_compress(zstd_big.data(), zstd_big.size(), big.data(), big.size(), 1));
  const std::string proto = "application/x-protobuf";
  const std::vector<testing::BadBody> cases = {
      {"not snappy", "plain text", proto, "snappy", 400, "cannot decode snappy body"},
      {"truncated snappy", snappyOf(valid + valid).substr(0, 8), proto, "snappy", 400,
       "cannot decode snappy body"},
      {"lying length prefix", std::string("\x7f", 1) + "short", proto, "snappy", 400,
       "cannot decode snappy body"},
      {"4 GiB declared", std::string("\xff\xff\xff\xff\x0f", 5), proto, "snappy", 413,
       "exceeds the limit"},
      {"zstd garbage", "garbage!", proto, "zstd", 400, "cannot decode zstd body"},
      {"zstd over the cap", zstd_big, proto, "zstd", 413, "exceeds the limit"},
      {"identity over the cap", std::string(2 << 20, '\x00'), proto, "", 413, "exceeds the limit"},
      {"gzip", snappyOf(valid), proto, "gzip", 415, "unsupported Content-Encoding 'gzip'"},
      {"br", snappyOf(valid), proto, "br", 415, "unsupported Content-Encoding"},
      {"json", snappyOf(valid), "application/json", "snappy", 415, "unsupported Content-Type"},
      {"text", snappyOf(valid), "text/plain", "snappy", 415, "unsupported Content-Type"},
      {"unknown proto", snappyOf(valid), proto + ";proto=io.prometheus.write.v3.Request", "snappy",
       415, "unsupported remote-write message"},
      {"bad varint", snappyOf(std::string(11, '\xff')), proto, "snappy", 400, "varint"},
      {"wrong wire type", snappyOf(std::string("\x08\x01", 2)), proto, "snappy", 400,
       "cannot decode timeseries 0: wrong wire type"},
      {"empty label name", snappyOf(std::string("\x0a\x06\x0a\x04\x0a\x00\x12\x00", 8)), proto,
       "snappy", 400, "label name empty"},
      {"length beyond message", snappyOf(std::string("\x0a\x7f\x00", 3)), proto, "snappy", 400,
       "length beyond the message"},
      {"field zero", snappyOf(std::string("\x02\x00", 2)), proto, "snappy", 400, "field number 0"},
      {"wire type 7", snappyOf(std::string("\x0f", 1)), proto, "snappy", 400,
       "unsupported wire type"},
      {"truncated fixed64", snappyOf(std::string("\x0a\x05\x12\x03\x09\x01\x02", 7)), proto,
       "snappy", 400, "truncated fixed64"},
      {"sample as varint", snappyOf(std::string("\x0a\x04\x12\x02\x08\x01", 6)), proto, "snappy",
       400, "sample field has the wrong wire type"},
      {"v2 ref beyond symbols", snappyOf(std::string("\x22\x00\x2a\x04\x0a\x02\x07\x00", 8)),
       proto + ";proto=io.prometheus.write.v2.Request", "snappy", 400,
       "label reference beyond the symbol table"},
      {"v2 odd refs", snappyOf(std::string("\x22\x00\x22\x01\x61\x2a\x03\x0a\x01\x01", 10)),
       proto + ";proto=io.prometheus.write.v2.Request", "snappy", 400,
       "odd number of label references"},
      {"v2 symbols as varint", snappyOf(std::string("\x20\x01", 2)),
       proto + ";proto=io.prometheus.write.v2.Request", "snappy", 400, "cannot decode symbols"},
      {"garbage protobuf", snappyOf("definitely not a protobuf message"), proto, "snappy", 400,
       "cannot decode"},
      {"metadata as varint", snappyOf(std::string("\x18\x01", 2)), proto, "snappy", 400,
       "cannot decode metadata"},
      {"v1 zstd over v2 type", std::string("\x28\xb5\x2f\xfd", 4), proto, "zstd", 400,
       "cannot decode zstd body"},
  };
  ASSERT_GE(cases.size(), 25u);
  for (const testing::BadBody& bad : cases) {
    SCOPED_TRACE(bad.name);
    HttpClient client(processor_port_);
    std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", bad.content_type}};
    if (!bad.encoding.empty()) headers.emplace_back("Content-Encoding", bad.encoding);
    const auto result =
        client.request(boost::beast::http::verb::post, "/v1/prometheus", bad.body, headers);
    EXPECT_EQ(result.status, bad.status);
    EXPECT_THAT(result.body, HasSubstr(bad.reason));
    EXPECT_THAT(result.body, HasSubstr(R"("code":4001)"));
  }
  // Still serving, and a good request after all that is accepted.
  HttpClient client(processor_port_);
  EXPECT_EQ(client.get("/healthz").status, 200u);
  const auto ok =
      client.request(boost::beast::http::verb::post, "/api/v1/write", snappyOf(valid),
                     {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "snappy"}});
  EXPECT_EQ(ok.status, 204u);
  EXPECT_GT(testing::metricValue(httpGet(processor_port_, "/metrics"),
                                 R"(remote_write_rejected_requests_total\{status="400"\})"),
            0);
}

// Resident memory figures of a process, in bytes: now, and the peak since it started.
std::pair<uint64_t, uint64_t> residentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  uint64_t rss = 0, peak = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stoull(line.substr(6)) << 10;
    if (line.rfind("VmHWM:", 0) == 0) peak = std::stoull(line.substr(6)) << 10;
  }
  return {rss, peak};
}

TEST_F(MetricsPathTest, AmplifyingV2BodiesGet413AndMemoryStaysBounded) {
  // One 60 KB symbol is the value of 250 labels of each of 5 series: about 320 KB in,
  // 75 MB of labels out.
  io::prometheus::write::v2::Request request;
  for (const char* symbol :
       {"", "__name__", "gpu_utilization", "gpu_id", "0", "primus_lens_node_name", "node-a"}) {
    request.add_symbols(symbol);
  }
  std::string symbol(60 << 10, 'v');
  uint32_t noise = 12345;  // incompressible, so the body on the wire is as large as decoded
  for (char& c : symbol)
    c = static_cast<char>('a' + ((noise = noise * 1103515245 + 12345) >> 16) % 26);
  request.add_symbols(symbol);
  const uint32_t big = 7;
  for (int i = 0; i < 250; ++i) request.add_symbols("l" + std::to_string(1000 + i));
  for (int s = 0; s < 5; ++s) {
    auto* series = request.add_timeseries();
    for (uint32_t ref : {1u, 2u, 3u, 4u, 5u, 6u}) series->add_labels_refs(ref);
    for (uint32_t i = 0; i < 250; ++i) {
      series->add_labels_refs(big + 1 + i);
      series->add_labels_refs(big);
    }
    auto* sample = series->add_samples();
    sample->set_value(s);
    sample->set_timestamp(1000 + s);
  }
  const std::string body = snappyOf(request.SerializeAsString());
  const uint64_t idle = residentBytes(processor_->pid()).first;
  ASSERT_GT(idle, 0u);

  constexpr int kSenders = 20;
  std::vector<std::thread> senders;
  std::vector<testing::HttpResult> results(kSenders);
  for (int i = 0; i < kSenders; ++i) {
    senders.emplace_back([&, i] {
      HttpClient client(processor_port_);
      results[i] = client.request(
          boost::beast::http::verb::post, "/v1/prometheus", body,
          {{"Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request"},
           {"Content-Encoding", "snappy"}});
    });
  }
  for (std::thread& sender : senders) sender.join();
  for (const testing::HttpResult& result : results) {
    EXPECT_EQ(result.status, 413u) << result.body;
    EXPECT_THAT(result.body, HasSubstr("http.maxSeriesLabelBytes"));
  }
  const uint64_t peak = residentBytes(processor_->pid()).second;
  std::cout << kSenders << " amplifying bodies of " << body.size() << " bytes: idle RSS "
            << (idle >> 20) << " MiB, peak " << (peak >> 20) << " MiB\n";
  EXPECT_LE(peak, idle + (256ull << 20)) << "idle " << idle << " bytes, peak " << peak << " bytes";
  HttpClient client(processor_port_);
  EXPECT_EQ(client.get("/healthz").status, 200u);
  EXPECT_EQ(
      client
          .request(boost::beast::http::verb::post, "/v1/prometheus", snappyOf(validRequest()),
                   {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "snappy"}})
          .status,
      204u);
}

// The troubleshooting routes on the real binary: the tracer's records and the active names say
// what the request did, and what reached storage agrees; explain answers for the same series.
TEST_F(MetricsPathTest, TracerActiveNamesAndExplainAgreeWithStorage) {
  testing::HttpClient client(processor_port_);
  const auto configured = client.request(
      boost::beast::http::verb::post, "/v1/metrics/debug/config",
      R"({"enabled":true,"metric_pattern":"^gpu_","label_selectors":{"primus_lens_node_name":"node-*"}})");
  ASSERT_EQ(configured.status, 200u) << configured.body;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  prompb::WriteRequest request;
  for (const char* gpu : {"0", "7"}) {
    auto* series = request.add_timeseries();
    for (const auto& [name, label_value] :
         std::vector<std::pair<std::string, std::string>>{{"__name__", "gpu_utilization"},
                                                          {"gpu_id", gpu},
                                                          {"primus_lens_node_name", "node-a"}}) {
      auto* label = series->add_labels();
      label->set_name(name);
      label->set_value(label_value);
    }
    auto* sample = series->add_samples();
    sample->set_value(42);
    sample->set_timestamp(now_ms);
  }
  ASSERT_EQ(remoteWrite(processor_port_, request.SerializeAsString()).status, 204u);

  const std::string exported = waitForWorkloadSeries();
  EXPECT_THAT(exported, HasSubstr(R"("pod_name":"train-0")"));
  EXPECT_THAT(exported, ::testing::Not(HasSubstr(R"("gpu_id":"7")")));

  const auto records = client.get("/v1/metrics/debug/records");
  ASSERT_EQ(records.status, 200u);
  EXPECT_THAT(records.body,
              HasSubstr(R"("pod_name":"train-0","pod_uid":"pod-uid-0","status":"passed")"));
  EXPECT_THAT(records.body, HasSubstr(R"("status":"filtered","reason":"missing_pod_info: )"));
  EXPECT_THAT(records.body, HasSubstr(R"("total_matched":2,"total_passed":1,"total_filtered":1)"));

  const auto active = client.get("/v1/metrics/active");
  ASSERT_EQ(active.status, 200u);
  EXPECT_THAT(active.body, HasSubstr(R"("metric_name":"gpu_utilization")"));
  EXPECT_THAT(active.body, HasSubstr(R"("seen_count":2)"));

  const auto explained = client.request(
      boost::beast::http::verb::post, "/v1/explain",
      R"({"series":"gpu_utilization{gpu_id=\"0\",primus_lens_node_name=\"node-a\"} 42"})");
  ASSERT_EQ(explained.status, 200u) << explained.body;
  EXPECT_THAT(explained.body, HasSubstr(R"("rule":"device")"));
  EXPECT_THAT(explained.body, HasSubstr(R"("workload_name":"pretrain")"));
  const auto bad = client.request(boost::beast::http::verb::post, "/v1/explain", R"({"series":)");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_THAT(bad.body, HasSubstr("body is not JSON"));

  EXPECT_EQ(client.request(boost::beast::http::verb::delete_, "/v1/metrics/debug/records").status,
            200u);
  EXPECT_THAT(client.get("/v1/metrics/debug/records").body, HasSubstr(R"("records":[])"));
  const auto disabled = client.request(boost::beast::http::verb::post, "/v1/metrics/debug/disable");
  EXPECT_THAT(disabled.body, HasSubstr(R"("enabled":false)"));
}

}  // namespace
}  // namespace tp
