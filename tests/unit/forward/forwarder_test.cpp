// The forwarder against a real HTTP server on loopback playing storage: one batch per submitted
// request, written before submit() returns, with queue.fsync=always too, retries of
// 5xx with backoff, Retry-After, no retry of other 4xx, delivery once storage recovers, the disk
// queue's cap, queued batches carried over a restart, and lanes that keep every series in order
// with several requests in flight.

#include "forward/forwarder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>

#include <atomic>
#include <climits>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "forward/remote_write_client.h"
#include "forward/retry_policy.h"
#include "http/server.h"
#include "remote_v1.pb.h"
#include "support/temp_dir.h"

namespace tp::forward {
namespace {

using namespace std::chrono_literals;

// A remote-write receiver whose answers the test scripts.
class FakeStorage {
 public:
  explicit FakeStorage(int threads = 1) : telemetry_("storage"), router_(telemetry_) {
    router_.add("/api/v1/write", {}, [this](const http::RequestContext& ctx) {
      const int in_flight = ++in_flight_;
      int most = max_in_flight_.load();
      while (in_flight > most && !max_in_flight_.compare_exchange_weak(most, in_flight)) {
      }
      if (answer_delay_.count() > 0) {
        thread_local std::mt19937 random(std::random_device{}());
        std::this_thread::sleep_for(std::chrono::microseconds(
            std::uniform_int_distribution<int64_t>(0, answer_delay_.count())(random)));
      }
      std::string raw;
      snappy::Uncompress(ctx.request.body().data(), ctx.request.body().size(), &raw);
      prompb::WriteRequest request;
      const bool parsed = request.ParseFromString(raw);
      std::lock_guard lock(mutex_);
      --in_flight_;
      ++requests_;
      const unsigned status = scripted_.empty() ? always_ : scripted_.front();
      if (!scripted_.empty()) scripted_.erase(scripted_.begin());
      if (status < 300 && parsed) {
        for (const auto& series : request.timeseries()) {
          samples_ += series.samples_size();
          std::string key;
          for (const auto& label : series.labels()) key += label.name() + "=" + label.value() + ",";
          // What a receiver without an out-of-order window refuses.
          auto [last, fresh] = last_timestamp_.try_emplace(key, INT64_MIN);
          for (const auto& sample : series.samples()) {
            if (sample.timestamp() <= last->second) ++out_of_order_;
            last->second = std::max(last->second, sample.timestamp());
          }
        }
      }
      http::Response response =
          http::textResponse(ctx.request, status, "text/plain", status == 400 ? "bad series" : "");
      if (status == 429) response.set("Retry-After", "0");
      return response;
    });
    server_ = std::move(
        *http::Server::create({.address = "127.0.0.1", .port = 0, .threads = threads}, router_));
    server_->start();
  }

  // Answers each request after a random wait of up to `most` (set before the first request).
  void delayAnswers(std::chrono::microseconds most) { answer_delay_ = most; }
  // Samples whose series already had one as new or newer.
  int outOfOrder() {
    std::lock_guard lock(mutex_);
    return out_of_order_;
  }
  int maxInFlight() const { return max_in_flight_.load(); }

  // Answers `status` to every request from now on (after the scripted ones).
  void answerAlways(unsigned status) {
    std::lock_guard lock(mutex_);
    always_ = status;
  }

  void script(std::vector<unsigned> statuses) {
    std::lock_guard lock(mutex_);
    scripted_ = std::move(statuses);
  }
  int samples() {
    std::lock_guard lock(mutex_);
    return samples_;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->localEndpoint().port());
  }

 private:
  telemetry::Telemetry telemetry_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::mutex mutex_;
  std::vector<unsigned> scripted_;
  unsigned always_ = 204;
  int samples_ = 0;
  int requests_ = 0;
  std::chrono::microseconds answer_delay_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  std::map<std::string, int64_t> last_timestamp_;
  int out_of_order_ = 0;
};

std::string encodedSeries(int samples) {
  prompb::WriteRequest request;
  auto* series = request.add_timeseries();
  auto* label = series->add_labels();
  label->set_name("__name__");
  label->set_value("workload_up");
  for (int i = 0; i < samples; ++i) {
    auto* sample = series->add_samples();
    sample->set_value(1);
    sample->set_timestamp(i);
  }
  return request.SerializeAsString();
}

// `series` series k="0".., one sample each at `timestamp`.
std::string seriesAt(int series, int64_t timestamp) {
  prompb::WriteRequest request;
  for (int k = 0; k < series; ++k) {
    auto* entry = request.add_timeseries();
    auto* name = entry->add_labels();
    name->set_name("__name__");
    name->set_value("workload_up");
    auto* label = entry->add_labels();
    label->set_name("k");
    label->set_value(std::to_string(k));
    auto* sample = entry->add_samples();
    sample->set_value(1);
    sample->set_timestamp(timestamp);
  }
  return request.SerializeAsString();
}

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

// A series whose label value does not compress: `bytes` of it reach the queue.
std::string incompressibleSeries(size_t bytes, int samples) {
  prompb::WriteRequest request;
  auto* series = request.add_timeseries();
  auto* label = series->add_labels();
  label->set_name("payload");
  std::mt19937 random(static_cast<unsigned>(bytes));
  std::string value(bytes, '\0');
  for (char& c : value) c = static_cast<char>('a' + random() % 26);
  label->set_value(value);
  for (int i = 0; i < samples; ++i) series->add_samples()->set_value(1);
  return request.SerializeAsString();
}

config::MetricsWriteConfig fastConfig(const std::string& url) {
  config::MetricsWriteConfig config;
  config.endpoints = {url};
  config.retry_min_backoff = 10ms;
  config.retry_max_backoff = 100ms;
  config.timeout = 2s;
  return config;
}

TEST(WriteUrlFor, AppendsTheWritePathToBaseUrls) {
  EXPECT_EQ(writeUrlFor("http://vminsert:8480/insert/0/prometheus"),
            "http://vminsert:8480/insert/0/prometheus/api/v1/write");
  EXPECT_EQ(writeUrlFor("http://vm:8428/"), "http://vm:8428/api/v1/write");
  EXPECT_EQ(writeUrlFor("http://vm:8428"), "http://vm:8428/api/v1/write");
  EXPECT_EQ(writeUrlFor("http://prom:9090/api/v1/write"), "http://prom:9090/api/v1/write");
  EXPECT_EQ(writeUrlFor("http://mimir/api/v1/push"), "http://mimir/api/v1/push");
}

TEST(RetryPolicy, ClassifiesStatuses) {
  EXPECT_EQ(classifyStatus(204), SendOutcome::kDelivered);
  EXPECT_EQ(classifyStatus(0), SendOutcome::kRetry);
  EXPECT_EQ(classifyStatus(429), SendOutcome::kRetry);
  EXPECT_EQ(classifyStatus(503), SendOutcome::kRetry);
  EXPECT_EQ(classifyStatus(400), SendOutcome::kRejected);
  EXPECT_EQ(classifyStatus(404), SendOutcome::kRejected);
}

TEST(RetryPolicy, BacksOffExponentiallyWithJitterAndHonoursRetryAfter) {
  Backoff backoff(100ms, 1s, 1);
  for (int attempt = 1; attempt <= 6; ++attempt) {
    const auto ceiling = std::min(1000ms, 100ms * (1 << (attempt - 1)));
    const auto delay = backoff.next(attempt, std::nullopt);
    EXPECT_GE(delay, ceiling / 2) << attempt;
    EXPECT_LE(delay, ceiling) << attempt;
  }
  EXPECT_EQ(backoff.next(1, 7s), 1s);  // capped at the maximum
  EXPECT_EQ(backoff.next(1, 200ms), 200ms);
  EXPECT_EQ(parseRetryAfter("3"), 3s);
  EXPECT_EQ(parseRetryAfter(" 0 "), 0s);
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(parseRetryAfter(""), std::nullopt);
}

class ForwarderTest : public ::testing::Test {
 protected:
  std::unique_ptr<Forwarder> create(const config::MetricsWriteConfig& config) {
    auto forwarder = Forwarder::create(config, queue_, telemetry_);
    EXPECT_TRUE(forwarder.ok()) << forwarder.status();
    return std::move(*forwarder);
  }

  testing::TempDir dir_{"tp-forward-"};
  config::QueueConfig queue_{.dir = (dir_.path() / "queue").string(), .max_disk_usage = 1 << 20};
  telemetry::Telemetry telemetry_{"test"};
};

TEST_F(ForwarderTest, EachSubmittedRequestIsOneBatchQueuedBeforeSubmitReturns) {
  FakeStorage storage;
  storage.answerAlways(503);  // nothing leaves the queue yet
  auto forwarder = create(fastConfig(storage.url()));
  forwarder->start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(forwarder->submit(encodedSeries(4), 4).ok());
  // On disk already: each batch is a record of its own in the endpoint's queue.
  EXPECT_THAT(telemetry_.exposition(),
              ::testing::ContainsRegex("remote_write_pending_batches\\{[^}]+\\} 3"));
  storage.answerAlways(204);
  EXPECT_TRUE(waitFor([&] { return storage.samples() == 12; }));
  forwarder->stop(1s);
  EXPECT_THAT(
      telemetry_.exposition(),
      ::testing::ContainsRegex("remote_write_sent_samples_total\\{endpoint=\"[^\"]+\"\\} 12"));
}

TEST_F(ForwarderTest, ConcurrentSubmitsWithFsyncAlwaysShareSyncsAndLoseNothing) {
  queue_.fsync = "always";
  FakeStorage storage;
  auto forwarder = create(fastConfig(storage.url()));
  forwarder->start();
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) EXPECT_TRUE(forwarder->submit(encodedSeries(2), 2).ok());
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_TRUE(waitFor([&] { return storage.samples() == 200; }));
  forwarder->stop(1s);
  EXPECT_EQ(storage.samples(), 200);
}

TEST_F(ForwarderTest, RetriesServerErrorsUntilStorageRecovers) {
  FakeStorage storage;
  storage.script({500, 503, 429, 204});
  auto forwarder = create(fastConfig(storage.url()));
  forwarder->start();
  ASSERT_TRUE(forwarder->submit(encodedSeries(10), 10).ok());
  EXPECT_TRUE(waitFor([&] { return storage.samples() == 10; }));
  EXPECT_EQ(storage.requests(), 4);
  forwarder->stop(1s);
  const std::string metrics = telemetry_.exposition();
  EXPECT_THAT(metrics, ::testing::ContainsRegex("remote_write_send_retries_total\\{[^}]+\\} 3"));
  EXPECT_THAT(metrics,
              ::testing::ContainsRegex(
                  "remote_write_send_requests_total\\{[^}]*status_class=\"5xx\"[^}]*\\} 2"));
}

TEST_F(ForwarderTest, DoesNotRetryOtherClientErrors) {
  FakeStorage storage;
  storage.script({400});
  auto forwarder = create(fastConfig(storage.url()));
  forwarder->start();
  ASSERT_TRUE(forwarder->submit(encodedSeries(10), 10).ok());
  EXPECT_TRUE(waitFor([&] { return storage.requests() == 1; }));
  ASSERT_TRUE(forwarder->submit(encodedSeries(10), 10).ok());  // the next batch goes through
  EXPECT_TRUE(waitFor([&] { return storage.samples() == 10; }));
  EXPECT_EQ(storage.requests(), 2);
  forwarder->stop(1s);
  const std::string metrics = telemetry_.exposition();
  EXPECT_THAT(metrics,
              ::testing::ContainsRegex("remote_write_rejected_batches_total\\{[^}]+\\} 1"));
  EXPECT_THAT(metrics, ::testing::ContainsRegex("remote_write_send_retries_total\\{[^}]+\\} 0"));
}

TEST_F(ForwarderTest, UnreachableStorageFillsTheQueueUpToItsCapWithoutBlockingAppends) {
  auto config = fastConfig("http://127.0.0.1:1");  // nothing listens on port 1
  auto forwarder = create(config);
  forwarder->start();
  // Storage never answers, so a submit that waited for it would never return: getting here at
  // all shows that appends do not block.
  int accepted = 0;
  while (forwarder->submit(incompressibleSeries(32 << 10, 10), 10).ok() && accepted < 100) {
    ++accepted;
  }
  EXPECT_GT(accepted, 15);
  EXPECT_LT(accepted, 100);
  const absl::Status full = forwarder->submit(incompressibleSeries(32 << 10, 10), 10);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("queue.maxDiskUsage"), std::string::npos);
  forwarder->stop(100ms);
  const std::string metrics = telemetry_.exposition();
  EXPECT_THAT(metrics,
              ::testing::ContainsRegex("remote_write_send_network_errors_total\\{[^}]+\\} [1-9]"));
  EXPECT_THAT(metrics, ::testing::ContainsRegex("remote_write_pending_batches\\{[^}]+\\} " +
                                                std::to_string(accepted)));
  EXPECT_THAT(metrics, ::testing::ContainsRegex("remote_write_dropped_batches_total\\{[^}]+\\} 0"));
  uint64_t on_disk = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(queue_.dir)) {
    if (entry.is_regular_file()) on_disk += entry.file_size();
  }
  EXPECT_LE(on_disk, queue_.max_disk_usage + 4096);
}

TEST_F(ForwarderTest, QueuedBatchesAreDeliveredAfterARestart) {
  FakeStorage storage;
  storage.answerAlways(503);  // storage is down
  {
    auto forwarder = create(fastConfig(storage.url()));
    forwarder->start();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(forwarder->submit(encodedSeries(10), 10).ok());
    EXPECT_TRUE(waitFor([&] { return storage.requests() >= 2; }));
    forwarder->stop(50ms);  // what is not delivered stays queued
  }
  EXPECT_EQ(storage.samples(), 0);
  storage.answerAlways(204);  // storage is back; so is the processor, with the same queue
  auto forwarder = create(fastConfig(storage.url()));
  forwarder->start();
  EXPECT_TRUE(waitFor([&] { return storage.samples() == 30; }));
  forwarder->stop(1s);
  EXPECT_EQ(storage.samples(), 30);
}

TEST_F(ForwarderTest, DropOldestKeepsAcceptingAndCountsWhatItDrops) {
  queue_.when_full = "drop_oldest";
  auto forwarder = create(fastConfig("http://127.0.0.1:1"));
  forwarder->start();
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(forwarder->submit(incompressibleSeries(32 << 10, 10), 10).ok());
  }
  forwarder->stop(50ms);
  EXPECT_THAT(telemetry_.exposition(),
              ::testing::ContainsRegex("remote_write_dropped_batches_total\\{[^}]+\\} [1-9]"));
  EXPECT_THAT(telemetry_.exposition(),
              ::testing::ContainsRegex("remote_write_send_dropped_samples_total\\{[^}]+\\} [1-9]"));
}

// Four requests in flight per endpoint while storage answers after random waits: every series
// still arrives in timestamp order, which a receiver without an out-of-order window needs.
TEST_F(ForwarderTest, LanesKeepEverySeriesInOrderWithSeveralRequestsInFlight) {
  FakeStorage storage(/*threads=*/4);
  storage.delayAnswers(3ms);
  auto config = fastConfig(storage.url());
  config.concurrency = 4;
  auto forwarder = create(config);
  forwarder->start();
  for (int request = 0; request < 200; ++request) {
    ASSERT_TRUE(forwarder->submit(seriesAt(16, request), 16).ok());
  }
  EXPECT_TRUE(waitFor([&] { return storage.samples() == 200 * 16; }));
  forwarder->stop(1s);
  EXPECT_EQ(storage.outOfOrder(), 0);
  EXPECT_GE(storage.maxInFlight(), 2);  // the lanes did send side by side
  EXPECT_THAT(telemetry_.exposition(),
              ::testing::ContainsRegex("remote_write_sent_samples_total\\{[^}]+\\} 3200"));
}

TEST_F(ForwarderTest, BatchesQueuedInMoreLanesAreDeliveredAfterConcurrencyIsLowered) {
  FakeStorage storage;
  storage.answerAlways(503);
  auto config = fastConfig(storage.url());
  config.concurrency = 4;
  {
    auto forwarder = create(config);
    forwarder->start();
    for (int request = 0; request < 20; ++request) {
      ASSERT_TRUE(forwarder->submit(seriesAt(16, request), 16).ok());
    }
    forwarder->stop(50ms);
  }
  const auto directories = [this] {
    return std::distance(std::filesystem::directory_iterator(queue_.dir),
                         std::filesystem::directory_iterator());
  };
  EXPECT_EQ(directories(), 4);
  storage.answerAlways(204);
  config.concurrency = 1;
  {
    auto forwarder = create(config);
    forwarder->start();
    EXPECT_TRUE(waitFor([&] { return storage.samples() == 20 * 16; }));
    forwarder->stop(1s);
  }
  EXPECT_EQ(storage.samples(), 20 * 16);
  create(config).reset();  // the next start removes the drained lanes
  EXPECT_EQ(directories(), 1);
}

}  // namespace
}  // namespace tp::forward
