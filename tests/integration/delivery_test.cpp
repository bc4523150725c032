// Delivery guarantees end to end, with the real binary, a real VictoriaMetrics and the SQLite
// cluster database: what the processor acknowledged arrives, across storage outages under load
// and kill -9 of the processor. Every sample is unique (series `k`, timestamp), so loss and
// duplicates are counted exactly. The CI runs are scaled; the environment sets the long runs of
// docs/RELIABILITY.md: TP_DELIVERY_RATE (samples/s), TP_DELIVERY_SECONDS, TP_OUTAGE_SECONDS,
// TP_KILL_CYCLES.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "storage/database.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/database_servers.h"
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
using Clock = std::chrono::steady_clock;
namespace http = boost::beast::http;

int fromEnvironment(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::atoi(value) : fallback;
}

// The samples of one request: `series` series of the training pod's GPU, one sample each at
// `timestamp_ms` (one timestamp per request, so every sample is unique).
std::string metricsBody(int series, int64_t timestamp_ms) {
  return tp::testing::compressedBody(
      tp::testing::gpuSeriesRequest("gpu_utilization", series, 1, timestamp_ms));
}

// One Fluent Bit record of the training pod: a Megatron performance line for `iteration`.
std::string logsBody(int iteration) {
  return R"([{"date": 1761223152.5, "log": " iteration )" + std::to_string(iteration) +
         R"(/ 1000000 | consumed samples: 64 | elapsed time per iteration (ms): 812.4 | )"
         R"(learning rate: 1.0E-04 | global batch size: 64 | lm loss: 2.5 |", )"
         R"("kubernetes": {"pod_name": "train-0", "namespace_name": "team", )"
         R"("pod_id": "pod-0", "host": "node-a"}}])";
}

// Sends paced POSTs to whichever port the processor listens on now, retrying each until it is
// acknowledged (as Prometheus and Fluent Bit do), and records what was acknowledged.
class Sender {
 public:
  struct Request {
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::function<std::string(int index)> body;
  };

  Sender(std::atomic<uint16_t>& port, double requests_per_second, Request request)
      : port_(port), interval_(1.0 / requests_per_second), request_(std::move(request)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Sender() { stop(); }

  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Requests 0..acknowledged()-1 were answered 2xx.
  int acknowledged() const { return acknowledged_.load(); }
  // Seconds from sending to the 2xx answer, per acknowledged request.
  std::vector<double> latencies() const {
    std::lock_guard lock(mutex_);
    return latencies_;
  }

 private:
  void run() {
    const auto started = Clock::now();
    std::unique_ptr<testing::HttpClient> client;
    std::string body = request_.body(0);
    for (int index = 0; !stopping_;) {
      std::this_thread::sleep_until(started +
                                    std::chrono::duration_cast<Clock::duration>(interval_ * index));
      if (stopping_) break;
      try {
        if (!client) client = std::make_unique<testing::HttpClient>(port_.load());
        const auto sent = Clock::now();
        const unsigned status =
            client->request(http::verb::post, request_.target, body, request_.headers).status;
        if (status >= 200 && status < 300) {
          std::lock_guard lock(mutex_);
          latencies_.push_back(std::chrono::duration<double>(Clock::now() - sent).count());
          acknowledged_ = ++index;
          body = request_.body(index);
          continue;
        }
      } catch (const std::exception&) {
        client.reset();  // the processor is down or restarting: connect again
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  std::atomic<uint16_t>& port_;
  const std::chrono::duration<double> interval_;
  const Request request_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> acknowledged_{0};
  mutable std::mutex mutex_;
  std::vector<double> latencies_;
  std::thread thread_;
};

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(fraction * values.size()))];
}

// What VictoriaMetrics holds of the test's samples: per series `k`, the distinct timestamps
// stored, sorted; `total` counts duplicates too.
struct Stored {
  std::vector<std::vector<int64_t>> timestamps;
  size_t total = 0;
  size_t unique = 0;

  bool holds(int k, int64_t timestamp) const {
    return std::binary_search(timestamps[k].begin(), timestamps[k].end(), timestamp);
  }
};

Stored storedSamples(testing::VictoriaMetrics& vm, int series) {
  Stored stored;
  stored.timestamps.resize(series);
  // std::regex recurses per character: no use on lists of millions of timestamps.
  constexpr std::string_view kKey = R"("timestamps":[)";
  for (int k = 0; k < series; ++k) {
    const std::string exported =
        vm.exportSeries("workload_gpu_utilization{k=\"" + std::to_string(k) + "\"}");
    std::vector<int64_t>& list = stored.timestamps[k];
    for (size_t at = exported.find(kKey); at != std::string::npos; at = exported.find(kKey, at)) {
      at += kKey.size();
      while (at < exported.size() && exported[at] != ']') {
        char* end = nullptr;
        list.push_back(std::strtoll(exported.c_str() + at, &end, 10));
        if (end == exported.c_str() + at) break;  // not a number: malformed export
        at = static_cast<size_t>(end - exported.c_str());
        if (at < exported.size() && exported[at] == ',') ++at;
      }
    }
    std::sort(list.begin(), list.end());
    stored.total += list.size();
    list.erase(std::unique(list.begin(), list.end()), list.end());
    stored.unique += list.size();
  }
  return stored;
}

class DeliveryTest : public ::testing::Test {
 protected:
  static constexpr int kSeries = 100;

  void SetUp() override {
    vm_ = std::make_unique<testing::VictoriaMetrics>(dir_ / "vm");
    config::DbConfig db;
    db.path = (dir_ / "lens.db").string();
    auto database = storage::Database::create(db);
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
    testing::insertTrainingPod(*database_);
  }

  void TearDown() override {
    if (processor_) testing::stopProcessor(*processor_);
  }

  // Starts the processor (same queue, same database), expects it ready, and returns how long that
  // took (reported, not asserted: it depends on the machine).
  Clock::duration startProcessor(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--db.path=" + (dir_ / "lens.db").string(),
                                     "--queue.dir=" + (dir_ / "queue").string(),
                                     "--metricsWrite.endpoints=" + vm_->url(),
                                     "--metricsWrite.retryMaxBackoff=300ms",
                                     "--training.flushInterval=20ms",
                                     "--training.retryMaxBackoff=200ms"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto began = Clock::now();
    port_ = testing::startProcessor(processor_, args);
    EXPECT_TRUE(
        testing::waitFor([this] { return !testing::httpGet(port_, "/readyz").empty(); }, 120s))
        << (processor_ ? processor_->output() : "");
    return Clock::now() - began;
  }

  std::string processorMetrics() { return testing::httpGet(port_, "/metrics"); }

  // Waits until the processor's queues are empty: everything it holds has been delivered.
  bool waitUntilDelivered(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      const std::string metrics = processorMetrics();
      if (!metrics.empty() &&
          testing::metricValue(metrics, R"(remote_write_pending_batches\{[^}]*\})").value_or(0) ==
              0 &&
          testing::metricValue(metrics, "training_rows_pending").value_or(0) == 0) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  Sender::Request metricsRequests(int series) const {
    return {
        "/api/v1/write",
        {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "snappy"}},
        [series, base_ms = base_ms_](int index) { return metricsBody(series, base_ms + index); }};
  }

  // Every acknowledged sample is stored; returns the duplicates VictoriaMetrics holds. Storage
  // may show a sample it took a moment later than its answer, so a gap is looked at again for up
  // to a minute before it counts as lost.
  size_t expectEveryAcknowledgedSampleStored(int acknowledged_requests, int series,
                                             int64_t base_ms) {
    const auto deadline = Clock::now() + 60s;
    Stored stored;
    std::string missing;  // the first few, to tell a lost request from lost series
    size_t missing_count = 0;
    while (true) {
      stored = storedSamples(*vm_, series);
      missing.clear();
      missing_count = 0;
      for (int request = 0; request < acknowledged_requests; ++request) {
        for (int k = 0; k < series; ++k) {
          if (stored.holds(k, base_ms + request)) continue;
          if (++missing_count <= 20) {
            missing += " (request " + std::to_string(request) + ", k " + std::to_string(k) + ")";
          }
        }
      }
      if (missing_count == 0 || Clock::now() >= deadline) break;
      std::this_thread::sleep_for(1s);
    }
    EXPECT_EQ(missing_count, 0u) << "of " << acknowledged_requests * series
                                 << " acknowledged samples; missing:" << missing
                                 << "\nprocessor logs:\n"
                                 << processor_logs_ << "\nVictoriaMetrics: " << vm_->output()
                                 << storageCounters();
    return stored.total - stored.unique;
  }

  // VictoriaMetrics's own count of what it took and what it ignored (since its last start).
  std::string storageCounters() {
    const std::string metrics = testing::httpGet(vm_->port(), "/metrics");
    return "\n" + testing::metricLines(metrics, "vm_rows_ignored_total") +
           testing::metricLines(metrics, "vm_rows_added_to_storage_total") +
           testing::metricLines(metrics, R"(vm_rows_inserted_total{type="promremotewrite"})");
  }

  // What the processors of this test said; kept across restarts for the failure messages.
  void keepProcessorLog() {
    if (processor_) processor_logs_ += processor_->output();
  }

  testing::TempDir dir_{"tp-delivery-"};
  std::unique_ptr<testing::VictoriaMetrics> vm_;
  std::unique_ptr<storage::Database> database_;
  std::unique_ptr<testing::ChildProcess> processor_;
  std::string processor_logs_;
  std::atomic<uint16_t> port_{0};
  const int64_t base_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() -
                           3'600'000;  // an hour ago: room for one timestamp per request
};

// Ingestion keeps going while storage is down (requests are acknowledged during the outage).
// How fast it is depends on the machine, so the latencies are reported, not asserted: the long
// runs of docs/RELIABILITY.md measure them with this test, and docs/BENCHMARKS.md the throughput.
TEST_F(DeliveryTest, StorageOutageUnderLoadLosesNothingAndKeepsIngesting) {
  const int rate = fromEnvironment("TP_DELIVERY_RATE", 20'000);
  const int seconds = fromEnvironment("TP_DELIVERY_SECONDS", 24);
  const int outage = fromEnvironment("TP_OUTAGE_SECONDS", 8);
  const int series = 500;  // per request
  startProcessor();
  Sender sender(port_, static_cast<double>(rate) / series, metricsRequests(series));
  const int before = (seconds - outage) / 3;
  std::this_thread::sleep_for(std::chrono::seconds(before));
  vm_->stop();
  const auto outage_began = Clock::now();
  const int acknowledged_before_outage = sender.acknowledged();
  // A second's worth of requests taken while nothing can be delivered.
  const int during_outage = std::max(1, rate / series);
  EXPECT_TRUE(testing::waitFor(
      [&] { return sender.acknowledged() >= acknowledged_before_outage + during_outage; }, 120s))
      << "ingestion stalled while storage was down";
  std::this_thread::sleep_until(outage_began + std::chrono::seconds(outage));
  vm_->start();
  std::this_thread::sleep_for(std::chrono::seconds(seconds - outage - before));
  sender.stop();
  ASSERT_TRUE(waitUntilDelivered(120s)) << processorMetrics();

  const int acknowledged = sender.acknowledged();
  const size_t duplicates = expectEveryAcknowledgedSampleStored(acknowledged, series, base_ms_);
  const double samples = static_cast<double>(acknowledged) * series;
  EXPECT_LE(static_cast<double>(duplicates), samples * 0.001);
  const std::vector<double> latencies = sender.latencies();
  const double p99 = percentile(latencies, 0.99);

  // accepted = delivered + counted drops, from the processor's own counters.
  const std::string metrics = processorMetrics();
  const double accepted =
      testing::metricValue(metrics, R"(remote_write_forwarded_total\{kind="samples"\})")
          .value_or(0);
  const double delivered =
      testing::metricValue(metrics, R"(remote_write_sent_samples_total\{[^}]*\})").value_or(0);
  const double dropped =
      testing::metricValue(metrics, R"(remote_write_send_dropped_samples_total\{[^}]*\})")
          .value_or(0);
  EXPECT_EQ(accepted, samples);
  EXPECT_EQ(accepted, delivered + dropped);
  EXPECT_EQ(dropped, 0);
  std::cout << "outage run: " << rate << " samples/s for " << seconds << " s, storage down "
            << outage << " s: acknowledged " << samples << " samples ("
            << 100.0 * acknowledged / (static_cast<double>(seconds) * rate / series)
            << " % of the offered rate), all stored, " << duplicates
            << " duplicates; ingest latency p50 " << percentile(latencies, 0.5) * 1e3 << " ms, p99 "
            << p99 * 1e3 << " ms, max " << percentile(latencies, 1.0) * 1e3 << " ms\n";
}

TEST_F(DeliveryTest, KillNineAtRandomMomentsLosesNoAcknowledgedSampleOrRow) {
  const int cycles = fromEnvironment("TP_KILL_CYCLES", 5);
  startProcessor();
  Sender metrics(port_, 50, metricsRequests(kSeries));
  Sender logs(port_, 50, {"/v1/logs", {{"Content-Type", "application/json"}}, [](int index) {
                            return logsBody(index + 1);
                          }});
  std::mt19937 random(std::random_device{}());
  Clock::duration slowest_start{};
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const bool storage_down = cycle % 2 == 1;  // every other cycle storage is down as well
    if (storage_down) vm_->stop();
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 1500)(random)));
    processor_->signal(SIGKILL);
    ASSERT_TRUE(processor_->waitForExit(10s).has_value());
    keepProcessorLog();
    processor_.reset();
    if (storage_down) vm_->start();
    slowest_start = std::max(slowest_start, startProcessor());
  }
  // Both streams go on through the last processor, and enough was sent over all the cycles.
  const int metrics_before = metrics.acknowledged();
  const int logs_before = logs.acknowledged();
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return metrics.acknowledged() > std::max(metrics_before, cycles * 10) &&
               logs.acknowledged() > std::max(logs_before, cycles * 10);
      },
      120s))
      << processor_->output();
  metrics.stop();
  logs.stop();
  ASSERT_TRUE(waitUntilDelivered(120s)) << processorMetrics();

  keepProcessorLog();
  const size_t duplicates =
      expectEveryAcknowledgedSampleStored(metrics.acknowledged(), kSeries, base_ms_);
  testing::stopProcessor(*processor_);
  processor_.reset();
  const int rows = logs.acknowledged();
  EXPECT_EQ(testing::queryNumber(*database_,
                                 "SELECT count(DISTINCT iteration) FROM training_performance "
                                 "WHERE workload_uid = 'w-job' AND iteration BETWEEN 1 AND " +
                                     std::to_string(rows)),
            rows);
  EXPECT_EQ(testing::queryNumber(*database_, "SELECT count(*) FROM training_performance"),
            testing::queryNumber(*database_,
                                 "SELECT count(DISTINCT iteration) FROM training_performance"));
  std::cout << cycles << " kill -9 cycles: " << metrics.acknowledged() * kSeries
            << " acknowledged samples all stored (" << duplicates << " duplicates), " << rows
            << " acknowledged rows all written; slowest start to ready "
            << std::chrono::duration<double>(slowest_start).count() << " s\n";
}

// Prometheus as the receiver, which has no out-of-order window by default: with four requests in
// flight per endpoint (metricsWrite.concurrency=4) every series still arrives in order, so it
// rejects nothing, and it holds every acknowledged sample, as does VictoriaMetrics beside it.
TEST_F(DeliveryTest, FourLanesKeepEverySeriesInOrderForPrometheus) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/prometheus"))
      << "/usr/bin/prometheus not found: install the Debian package prometheus";
  std::ofstream(dir_ / "prometheus.yml") << "scrape_configs: []\n";
  const uint16_t prometheus_port = testing::freeLoopbackPort();
  testing::ChildProcess prometheus(
      "/usr/bin/prometheus", {"--config.file=" + (dir_ / "prometheus.yml").string(),
                              "--storage.tsdb.path=" + (dir_ / "prometheus").string(),
                              "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port),
                              "--web.enable-remote-write-receiver", "--log.level=warn"});
  ASSERT_TRUE(testing::waitFor(
      [&] { return !testing::httpGet(prometheus_port, "/-/ready").empty(); }, 120s))
      << prometheus.output();
  const std::string prometheus_url =
      "http://127.0.0.1:" + std::to_string(prometheus_port) + "/api/v1/write";
  startProcessor({"--metricsWrite.endpoints=" + vm_->url() + "," + prometheus_url,
                  "--metricsWrite.concurrency=4"});
  // Recent timestamps: Prometheus takes nothing far behind its head.
  const int64_t base_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() -
                          60'000;
  Sender sender(port_, 200,
                {"/api/v1/write",
                 {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "snappy"}},
                 [base_ms](int index) { return metricsBody(kSeries, base_ms + index); }});
  // Enough requests for the four lanes to have several in flight at once.
  ASSERT_TRUE(testing::waitFor([&] { return sender.acknowledged() >= 600; }, 120s))
      << processor_->output();
  sender.stop();
  ASSERT_TRUE(waitUntilDelivered(120s)) << processorMetrics();

  const int acknowledged = sender.acknowledged();
  const std::string metrics = processorMetrics();
  const std::string prometheus_endpoint =
      R"(\{endpoint="[^"]*)" + std::to_string(prometheus_port) + R"([^"]*"\})";
  EXPECT_EQ(
      testing::metricValue(metrics, "remote_write_rejected_batches_total" + prometheus_endpoint), 0)
      << prometheus.output();
  EXPECT_EQ(testing::metricValue(metrics, "remote_write_sent_samples_total" + prometheus_endpoint),
            static_cast<double>(acknowledged) * kSeries);
  const std::string query =
      "/api/v1/query?query=sum(count_over_time(workload_gpu_utilization%5B10m%5D))";
  const std::string answer = testing::httpGet(prometheus_port, query);
  std::smatch stored;
  ASSERT_TRUE(
      std::regex_search(answer, stored, std::regex(R"re("value":\[[0-9.]+,"([0-9]+)"\])re")))
      << answer;
  EXPECT_EQ(std::stoll(stored[1]), static_cast<long long>(acknowledged) * kSeries);
  expectEveryAcknowledgedSampleStored(acknowledged, kSeries, base_ms);
}

// Before the first read of the cluster state every series and line would miss its workload:
// the processor defers such requests (503 + Retry-After) instead of accepting and dropping them,
// and reads the database every second until it answers, whatever cache.refreshInterval says.
TEST_F(DeliveryTest, IngestionWaitsForTheFirstClusterStateLoad) {
  testing::PostgresServer postgres;
  {
    auto database = storage::Database::create(postgres.dbConfig());
    ASSERT_TRUE(database.ok()) << database.status();
    ASSERT_TRUE(storage::ensureSchema(**database, nullptr).ok());
    testing::insertTrainingPod(**database);
  }
  postgres.stop();
  std::vector<std::string> env;
  std::vector<std::string> args = testing::databaseFlags(postgres.dbConfig(), &env);
  args.insert(args.end(), {"--httpPort=0", "--http.listenAddress=127.0.0.1", "--db.timeout=1s",
                           "--cache.refreshInterval=1h", "--metricsWrite.endpoints=" + vm_->url(),
                           testing::freshQueueDirFlag()});
  processor_ = std::make_unique<testing::ChildProcess>(testing::processorBinary(), args, env);
  const auto port = processor_->waitForOutput(R"(listening on 127\.0\.0\.1:(\d+))", 20s);
  ASSERT_TRUE(port) << processor_->output();
  port_ = static_cast<uint16_t>(std::stoi(*port));
  testing::HttpClient client(port_);

  const Sender::Request metrics = metricsRequests(kSeries);
  const Sender::Request logs = {"/v1/logs", {{"Content-Type", "application/json"}}, [](int index) {
                                  return logsBody(index + 1);
                                }};
  for (const Sender::Request* request : {&metrics, &logs}) {
    const testing::HttpResult deferred =
        client.request(http::verb::post, request->target, request->body(0), request->headers);
    EXPECT_EQ(deferred.status, 503u) << request->target;
    EXPECT_EQ(deferred.headers[http::field::retry_after], "5") << request->target;
    EXPECT_THAT(deferred.body, ::testing::HasSubstr("cluster state not loaded")) << request->target;
  }
  const std::string deferred_counts = processorMetrics();
  EXPECT_EQ(testing::metricValue(deferred_counts,
                                 R"(remote_write_rejected_requests_total\{status="503"\})"),
            1);
  EXPECT_EQ(testing::metricValue(deferred_counts, R"(log_rejected_requests_total\{status="503"\})"),
            1);

  postgres.start();
  // Retried as a sender would. Taken at all proves the retry every second: the refresh interval
  // is an hour, far longer than the (generous) limit here.
  for (const Sender::Request* request : {&metrics, &logs}) {
    const auto taken = [&] {
      const testing::HttpResult answer =
          client.request(http::verb::post, request->target, request->body(0), request->headers);
      return answer.status / 100 == 2;
    };
    ASSERT_TRUE(testing::waitFor(taken, 120s, 200ms))
        << request->target << ": " << processor_->output();
  }
  ASSERT_TRUE(waitUntilDelivered(120s)) << processorMetrics();
  expectEveryAcknowledgedSampleStored(1, kSeries, base_ms_);
  auto database = storage::Database::create(postgres.dbConfig());
  ASSERT_TRUE(database.ok()) << database.status();
  EXPECT_EQ(testing::queryNumber(**database,
                                 "SELECT count(*) FROM training_performance WHERE "
                                 "workload_uid = 'w-job' AND iteration = 1"),
            1);
}

TEST_F(DeliveryTest, DropOldestAccountsForEverySampleItAccepted) {
  vm_->stop();
  startProcessor({"--queue.maxDiskUsage=1MiB", "--queue.whenFull=drop_oldest"});
  int accepted_requests = 0;
  testing::HttpClient client(port_);
  // Until the oldest batches had to make room, and some more.
  for (int extra = 50; extra > 0 && accepted_requests < 20'000; ++accepted_requests) {
    const Sender::Request request = metricsRequests(kSeries);
    ASSERT_EQ(client
                  .request(http::verb::post, request.target, request.body(accepted_requests),
                           request.headers)
                  .status,
              204u);
    if (extra < 50 ||
        (accepted_requests % 50 == 0 &&
         testing::metricValue(processorMetrics(),
                              R"(remote_write_send_dropped_samples_total\{[^}]*\})") > 0)) {
      --extra;
    }
  }
  vm_->start();
  ASSERT_TRUE(waitUntilDelivered(120s)) << processorMetrics();
  const std::string metrics = processorMetrics();
  const double accepted =
      testing::metricValue(metrics, R"(remote_write_forwarded_total\{kind="samples"\})")
          .value_or(0);
  const double delivered =
      testing::metricValue(metrics, R"(remote_write_sent_samples_total\{[^}]*\})").value_or(0);
  const double dropped =
      testing::metricValue(metrics, R"(remote_write_send_dropped_samples_total\{[^}]*\})")
          .value_or(0);
  EXPECT_EQ(accepted, static_cast<double>(accepted_requests) * kSeries);
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(accepted, delivered + dropped);
  const Stored stored = storedSamples(*vm_, kSeries);
  EXPECT_EQ(static_cast<double>(stored.unique), delivered);
}

}  // namespace
}  // namespace tp
