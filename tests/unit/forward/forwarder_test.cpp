// The forwarder against a real HTTP server on loopback playing storage: one batch per submitted
// request, written before submit() returns, with queue.fsync=always too, retries of
// 5xx with backoff, Retry-After, no retry of other 4xx, delivery once storage recovers, the disk
// queue's cap, queued batches carried over a restart, lanes that keep every series in order
// with several requests in flight and across a change of their number, a submit failing when any
// endpoint's queue fails it, and a stop that ends at its deadline. Forwarders whose waits are the
// subject run on a simulated clock that the test moves.

#include "forward/forwarder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <snappy.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <regex>
#include <thread>

#include "fmt/format.h"
#include "forward/remote_write_client.h"
#include "forward/retry_policy.h"
#include "http/server.h"
#include "remote_v1.pb.h"
#include "support/black_hole_storage.h"
#include "support/metrics_text.h"
#include "support/simulated_clock.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tp::config {

// Parameterised tests print the value as it is configured.
void PrintTo(WhenFull when_full, std::ostream* out) { *out << nameOf(kWhenFullNames, when_full); }

}  // namespace tp::config

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
      holdIfOld(request);
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
          // What a receiver without an out-of-order window refuses: an older sample. The same
          // sample again (a batch re-sent after its send was cut off) it keeps once.
          auto [last, fresh] = last_timestamp_.try_emplace(key, INT64_MIN);
          for (const auto& sample : series.samples()) {
            if (sample.timestamp() < last->second) ++out_of_order_;
            if (sample.timestamp() > last->second) ++distinct_samples_;
            last->second = std::max(last->second, sample.timestamp());
          }
        }
      }
      http::Response response =
          http::textResponse(ctx.request, status, "text/plain", status == 400 ? "bad series" : "");
      if (status == 429) response.set("Retry-After", "0");
      if (status == 503 && !retry_after_.empty()) response.set("Retry-After", retry_after_);
      return response;
    });
    server_ = std::move(
        *http::Server::create({.address = "127.0.0.1", .port = 0, .threads = threads}, router_));
    server_->start();
  }

  // Answers each request after a random wait of up to `most` (set before the first request).
  void delayAnswers(std::chrono::microseconds most) { answer_delay_ = most; }
  // From now on, holds requests with samples before `timestamp` only until one with a sample at
  // or after it arrives, or `most` after the first was held: a sender that does not wait for
  // older samples of a series to be delivered sends newer ones meanwhile.
  void holdOlderThan(int64_t timestamp, std::chrono::milliseconds most) {
    std::lock_guard lock(hold_mutex_);
    hold_before_ = timestamp;
    hold_most_ = most;
  }
  // The Retry-After of 503 answers.
  void retryAfter(std::string seconds) {
    std::lock_guard lock(mutex_);
    retry_after_ = std::move(seconds);
  }
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
  // Samples newer than every earlier one of their series: what arrived, not counting repeats.
  int distinctSamples() {
    std::lock_guard lock(mutex_);
    return distinct_samples_;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->localEndpoint().port());
  }

 private:
  void holdIfOld(const prompb::WriteRequest& request) {
    std::unique_lock lock(hold_mutex_);
    if (hold_before_ == INT64_MIN || released_) return;
    bool newer = false;
    for (const auto& series : request.timeseries()) {
      for (const auto& sample : series.samples())
        newer = newer || sample.timestamp() >= hold_before_;
    }
    if (!newer) {
      if (!held_since_) held_since_ = std::chrono::steady_clock::now();
      hold_changed_.wait_until(lock, *held_since_ + hold_most_, [this] { return released_; });
    }
    released_ = true;
    hold_changed_.notify_all();
  }

  telemetry::Telemetry telemetry_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::mutex mutex_;
  std::vector<unsigned> scripted_;
  unsigned always_ = 204;
  int samples_ = 0;
  int distinct_samples_ = 0;
  int requests_ = 0;
  std::chrono::microseconds answer_delay_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  std::map<std::string, int64_t> last_timestamp_;
  int out_of_order_ = 0;
  std::string retry_after_;
  int64_t hold_before_ = INT64_MIN;
  std::chrono::milliseconds hold_most_{0};
  std::mutex hold_mutex_;
  std::condition_variable hold_changed_;
  std::optional<std::chrono::steady_clock::time_point> held_since_;
  bool released_ = false;
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

// One sample at `timestamp` for each series k of `keys`.
std::string seriesFor(const std::vector<int>& keys, int64_t timestamp) {
  prompb::WriteRequest request;
  for (int k : keys) {
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

// A request cut into lanes as the enricher cuts it, by a rule of the test's own (the enricher's
// hash is tested with the enricher): series k takes lane k % lanes.
struct LaneFields {
  std::vector<std::string> fields;
  std::vector<size_t> samples;
};

// One sample at `timestamp` for each series k of `keys`, in `lanes` lanes.
LaneFields inLanes(size_t lanes, const std::vector<int>& keys, int64_t timestamp) {
  std::vector<std::vector<int>> keys_of(lanes);
  for (int k : keys) keys_of[static_cast<size_t>(k) % lanes].push_back(k);
  LaneFields request;
  for (const std::vector<int>& lane_keys : keys_of) {
    request.fields.push_back(lane_keys.empty() ? "" : seriesFor(lane_keys, timestamp));
    request.samples.push_back(lane_keys.size());
  }
  return request;
}

// `series` series k="0".., one sample each at `timestamp`, in `lanes` lanes.
LaneFields seriesAt(size_t lanes, int series, int64_t timestamp) {
  std::vector<int> keys(static_cast<size_t>(series));
  std::iota(keys.begin(), keys.end(), 0);
  return inLanes(lanes, keys, timestamp);
}

absl::Status submit(Forwarder& forwarder, const LaneFields& request) {
  std::vector<LanePart> parts;
  for (size_t lane = 0; lane < request.fields.size(); ++lane) {
    parts.push_back({request.fields[lane], request.samples[lane]});
  }
  return forwarder.submit(parts);
}

// `fields` holding `samples` samples, in the first of the forwarder's lanes.
absl::Status submit(Forwarder& forwarder, const std::string& fields, size_t samples) {
  LaneFields request{std::vector<std::string>(forwarder.lanes()),
                     std::vector<size_t>(forwarder.lanes(), 0)};
  request.fields[0] = fields;
  request.samples[0] = samples;
  return submit(forwarder, request);
}

// `count` keys whose series do not take lane 0 of `lanes`.
std::vector<int> keysOutsideLaneZero(size_t lanes, size_t count) {
  std::vector<int> keys;
  for (int k = 0; keys.size() < count; ++k) {
    if (static_cast<size_t>(k) % lanes != 0) keys.push_back(k);
  }
  return keys;
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

TEST(RetryPolicy, ReadsRetryAfterInSeconds) {
  EXPECT_EQ(parseRetryAfter("3"), 3s);
  EXPECT_EQ(parseRetryAfter(" 0 "), 0s);
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(parseRetryAfter(""), std::nullopt);
}

// Retry waits that would make a test on the real clock slow, and requests that never time out:
// for forwarders on the simulated clock, whose waits pass when the test moves it.
config::MetricsWriteConfig simulatedConfig(const std::string& url) {
  config::MetricsWriteConfig config = fastConfig(url);
  config.retry_min_backoff = 1s;
  config.retry_max_backoff = 10s;
  config.timeout = 24h;
  return config;
}

class ForwarderTest : public ::testing::Test {
 protected:
  std::unique_ptr<Forwarder> create(const config::MetricsWriteConfig& config,
                                    const common::Clock& clock = common::systemClock()) {
    auto forwarder = Forwarder::create(config, queue_, telemetry_, clock);
    EXPECT_TRUE(forwarder.ok()) << forwarder.status();
    return std::move(*forwarder);
  }

  // Moves clock_ on until `condition` holds: the retry waits of forwarders on it pass at once.
  bool advanceUntil(const std::function<bool()>& condition) {
    return testing::advanceUntil(clock_, 1s, condition);
  }

  // The value of the first sample of `series` (a regular expression), -1 when there is none.
  double metric(const std::string& series) const {
    return testing::metricValue(telemetry_.exposition(), series).value_or(-1);
  }

  testing::SimulatedClock clock_;
  testing::TempDir dir_{"tp-forward-"};
  config::QueueConfig queue_{.dir = (dir_.path() / "queue").string(), .max_disk_usage = 1 << 20};
  telemetry::Telemetry telemetry_{"test"};
};

TEST_F(ForwarderTest, EachSubmittedRequestIsOneBatchQueuedBeforeSubmitReturns) {
  FakeStorage storage;
  storage.answerAlways(503);  // nothing leaves the queue yet
  auto forwarder = create(simulatedConfig(storage.url()), clock_);
  forwarder->start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(submit(*forwarder, encodedSeries(4), 4).ok());
  // On disk already: each batch is a record of its own in the endpoint's queue.
  EXPECT_EQ(metric(R"(remote_write_pending_batches\{[^}]+\})"), 3);
  storage.answerAlways(204);
  EXPECT_TRUE(advanceUntil([&] { return storage.samples() == 12; }));
  forwarder->stop(1s);
  EXPECT_EQ(metric(R"(remote_write_sent_samples_total\{endpoint="[^"]+"\})"), 12);
  EXPECT_EQ(metric(R"(remote_write_queue_sync_failures_total\{[^}]+\})"), 0);
}

TEST_F(ForwarderTest, ConcurrentSubmitsWithFsyncAlwaysShareSyncsAndLoseNothing) {
  queue_.fsync = config::FsyncMode::kAlways;
  FakeStorage storage;
  auto forwarder = create(fastConfig(storage.url()));
  forwarder->start();
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) EXPECT_TRUE(submit(*forwarder, encodedSeries(2), 2).ok());
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_TRUE(testing::waitFor([&] { return storage.samples() == 200; }));
  forwarder->stop(1s);
  EXPECT_EQ(storage.samples(), 200);
}

TEST_F(ForwarderTest, RetriesServerErrorsUntilStorageRecovers) {
  FakeStorage storage;
  storage.script({500, 503, 429, 204});
  auto forwarder = create(simulatedConfig(storage.url()), clock_);
  forwarder->start();
  ASSERT_TRUE(submit(*forwarder, encodedSeries(10), 10).ok());
  EXPECT_TRUE(advanceUntil([&] { return storage.samples() == 10; }));
  EXPECT_EQ(storage.requests(), 4);
  forwarder->stop(1s);
  EXPECT_EQ(metric(R"(remote_write_send_retries_total\{[^}]+\})"), 3);
  EXPECT_EQ(metric(R"(remote_write_send_requests_total\{[^}]*status_class="5xx"[^}]*\})"), 2);
}

TEST_F(ForwarderTest, DoesNotRetryOtherClientErrors) {
  FakeStorage storage;
  storage.script({400});
  auto forwarder = create(fastConfig(storage.url()));
  forwarder->start();
  ASSERT_TRUE(submit(*forwarder, encodedSeries(10), 10).ok());
  EXPECT_TRUE(testing::waitFor([&] { return storage.requests() == 1; }));
  ASSERT_TRUE(submit(*forwarder, encodedSeries(10), 10).ok());  // the next batch goes through
  EXPECT_TRUE(testing::waitFor([&] { return storage.samples() == 10; }));
  EXPECT_EQ(storage.requests(), 2);
  forwarder->stop(1s);
  EXPECT_EQ(metric(R"(remote_write_rejected_batches_total\{[^}]+\})"), 1);
  EXPECT_EQ(metric(R"(remote_write_send_retries_total\{[^}]+\})"), 0);
}

TEST_F(ForwarderTest, UnreachableStorageFillsTheQueueUpToItsCapWithoutBlockingAppends) {
  auto forwarder = create(simulatedConfig("http://127.0.0.1:1"), clock_);  // nothing listens
  forwarder->start();
  // Storage never answers, so a submit that waited for it would never return: getting here at
  // all shows that appends do not block.
  int accepted = 0;
  while (submit(*forwarder, incompressibleSeries(32 << 10, 10), 10).ok() && accepted < 100) {
    ++accepted;
  }
  EXPECT_GT(accepted, 15);
  EXPECT_LT(accepted, 100);
  const absl::Status full = submit(*forwarder, incompressibleSeries(32 << 10, 10), 10);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("queue.maxDiskUsage"), std::string::npos);
  EXPECT_TRUE(testing::waitFor(
      [&] { return metric(R"(remote_write_send_network_errors_total\{[^}]+\})") >= 1; }));
  forwarder->stop(0ms);
  EXPECT_EQ(metric(R"(remote_write_pending_batches\{[^}]+\})"), accepted);
  EXPECT_EQ(metric(R"(remote_write_dropped_batches_total\{[^}]+\})"), 0);
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
    auto forwarder = create(simulatedConfig(storage.url()), clock_);
    forwarder->start();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(submit(*forwarder, encodedSeries(10), 10).ok());
    EXPECT_TRUE(advanceUntil([&] { return storage.requests() >= 2; }));
    forwarder->stop(0ms);  // what is not delivered stays queued
  }
  EXPECT_EQ(storage.samples(), 0);
  storage.answerAlways(204);  // storage is back; so is the processor, with the same queue
  auto forwarder = create(fastConfig(storage.url()));
  forwarder->start();
  EXPECT_TRUE(testing::waitFor([&] { return storage.samples() == 30; }));
  forwarder->stop(1s);
  EXPECT_EQ(storage.samples(), 30);
}

TEST_F(ForwarderTest, DropOldestKeepsAcceptingAndCountsWhatItDrops) {
  queue_.when_full = config::WhenFull::kDropOldest;
  auto forwarder = create(simulatedConfig("http://127.0.0.1:1"), clock_);
  forwarder->start();
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(submit(*forwarder, incompressibleSeries(32 << 10, 10), 10).ok());
  }
  forwarder->stop(0ms);
  EXPECT_GT(metric(R"(remote_write_dropped_batches_total\{[^}]+\})"), 0);
  EXPECT_GT(metric(R"(remote_write_send_dropped_samples_total\{[^}]+\})"), 0);
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
    ASSERT_TRUE(submit(*forwarder, seriesAt(4, 16, request)).ok());
  }
  EXPECT_TRUE(testing::waitFor([&] { return storage.samples() == 200 * 16; }));
  forwarder->stop(1s);
  EXPECT_EQ(storage.outOfOrder(), 0);
  EXPECT_GE(storage.maxInFlight(), 2);  // the lanes did send side by side
  EXPECT_EQ(metric(R"(remote_write_sent_samples_total\{[^}]+\})"), 3200);
}

TEST_F(ForwarderTest, BatchesQueuedInMoreLanesAreDeliveredAfterConcurrencyIsLowered) {
  FakeStorage storage;
  storage.answerAlways(503);
  auto config = simulatedConfig(storage.url());
  config.concurrency = 4;
  {
    auto forwarder = create(config, clock_);
    forwarder->start();
    for (int request = 0; request < 20; ++request) {
      ASSERT_TRUE(submit(*forwarder, seriesAt(4, 16, request)).ok());
    }
    forwarder->stop(0ms);
  }
  const auto directories = [this] {
    return std::count_if(std::filesystem::directory_iterator(queue_.dir),
                         std::filesystem::directory_iterator(),
                         [](const auto& entry) { return entry.is_directory(); });
  };
  EXPECT_EQ(directories(), 4);
  storage.answerAlways(204);
  config.concurrency = 1;
  {
    auto forwarder = create(config, clock_);
    forwarder->start();
    // At least once: a send the first run cut off at stop() may still have been read by storage
    // after it began to answer 204, and is sent again.
    EXPECT_TRUE(testing::waitFor([&] { return storage.distinctSamples() == 20 * 16; }));
    forwarder->stop(1s);
  }
  EXPECT_EQ(storage.distinctSamples(), 20 * 16);
  create(config).reset();  // the next start removes the drained lanes
  EXPECT_EQ(directories(), 1);
}

// Lane counts of the runs of one queue, in order: all but the last queue batches while storage
// is down, the last delivers them and more.
struct ConcurrencyChange {
  std::vector<int> concurrencies;
  config::WhenFull when_full;
};

void PrintTo(const ConcurrencyChange& change, std::ostream* out) {
  for (int lanes : change.concurrencies) *out << lanes << " lanes, ";
  config::PrintTo(change.when_full, out);
}

class ConcurrencyChangeTest : public ForwarderTest,
                              public ::testing::WithParamInterface<ConcurrencyChange> {};

// The series take lanes other than 0 of four, so that in one of the runs some lane holds no
// batches of the earlier ones and would send newer samples at once. Storage holds the older
// samples until newer ones come (or a second has passed): only a forwarder that sends nothing
// newer while older samples wait in any lane delivers every series in order.
TEST_P(ConcurrencyChangeTest, EverySeriesStaysInOrderAndNothingIsRefusedOrDropped) {
  queue_.when_full = GetParam().when_full;
  const std::vector<int>& runs = GetParam().concurrencies;
  const std::vector<int> keys = keysOutsideLaneZero(4, 12);
  constexpr int kRequests = 20;
  FakeStorage storage(/*threads=*/4);
  storage.answerAlways(503);
  auto config = simulatedConfig(storage.url());
  for (size_t run = 0; run < runs.size(); ++run) {
    const bool last = run + 1 == runs.size();
    if (last) {
      storage.holdOlderThan(static_cast<int64_t>(run) * kRequests, 1s);
      storage.answerAlways(204);
    }
    config.concurrency = runs[run];
    auto forwarder = create(config, clock_);
    forwarder->start();
    for (int request = 0; request < kRequests; ++request) {
      const auto timestamp = static_cast<int64_t>(run) * kRequests + request;
      ASSERT_TRUE(submit(*forwarder, inLanes(forwarder->lanes(), keys, timestamp)).ok()) << run;
    }
    if (last) {
      const int expected = static_cast<int>(runs.size() * kRequests * keys.size());
      // At least once: a send an earlier run cut off at stop() may have been read by storage
      // after it began to answer 204, and is sent again.
      EXPECT_TRUE(testing::waitFor([&] { return storage.distinctSamples() == expected; }, 30s))
          << storage.distinctSamples() << " of " << expected;
    }
    forwarder->stop(last ? 1s : 0ms);
  }
  EXPECT_EQ(storage.outOfOrder(), 0);
  EXPECT_EQ(metric(R"(remote_write_dropped_batches_total\{[^}]+\})"), 0);
  EXPECT_EQ(metric(R"(remote_write_send_dropped_samples_total\{[^}]+\})"), 0);
}

INSTANTIATE_TEST_SUITE_P(Lanes, ConcurrencyChangeTest,
                         ::testing::Values(ConcurrencyChange{{1, 4}, config::WhenFull::kReject},
                                           ConcurrencyChange{{4, 1}, config::WhenFull::kReject},
                                           ConcurrencyChange{{4, 1}, config::WhenFull::kDropOldest},
                                           ConcurrencyChange{{1, 4, 2}, config::WhenFull::kReject}),
                         [](const auto& info) {
                           std::string name;
                           for (int lanes : info.param.concurrencies)
                             name += std::to_string(lanes) + "_";
                           return name + (info.param.when_full == config::WhenFull::kReject
                                              ? "Reject"
                                              : "DropOldest");
                         });

class BacklogTest : public ForwarderTest, public ::testing::WithParamInterface<config::WhenFull> {};

// 400 KiB queued by one lane, then four lanes sharing the 1 MiB: that lane keeps its backlog and
// room beside it; the endpoint still takes batches up to its cap, no further.
TEST_P(BacklogTest, ALaneKeepsItsBacklogAndRoomWhenTheLanesAreMore) {
  queue_.when_full = GetParam();
  auto config = fastConfig("http://127.0.0.1:1");  // nothing listens on port 1
  {
    auto forwarder = create(config);
    for (int i = 0; i < 12; ++i) {
      ASSERT_TRUE(submit(*forwarder, incompressibleSeries(32 << 10, 1), 1).ok());
    }
  }
  config.concurrency = 4;
  auto forwarder = create(config);
  for (int request = 0; request < 10; ++request) {
    ASSERT_TRUE(submit(*forwarder, seriesAt(4, 16, request)).ok()) << request;
  }
  if (queue_.when_full == config::WhenFull::kReject) {
    int accepted = 0;
    const auto withBacklog = [](int request) {
      LaneFields fields = seriesAt(4, 16, request);
      fields.fields[0] += incompressibleSeries(32 << 10, 1);
      fields.samples[0] += 1;
      return fields;
    };
    while (submit(*forwarder, withBacklog(accepted)).ok() && accepted < 100) ++accepted;
    EXPECT_GE(accepted, 10);  // 600 KiB were left
    EXPECT_LT(accepted, 100);
    uint64_t on_disk = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(queue_.dir)) {
      if (entry.is_regular_file()) on_disk += entry.file_size();
    }
    EXPECT_LE(on_disk, queue_.max_disk_usage + 4096);
  }
  forwarder.reset();
  EXPECT_EQ(metric(R"(remote_write_dropped_batches_total\{[^}]+\})"), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Lanes, BacklogTest, ::testing::Values(config::WhenFull::kReject, config::WhenFull::kDropOldest),
    [](const auto& info) {
      return std::string(info.param == config::WhenFull::kReject ? "Reject" : "DropOldest");
    });

// One endpoint's queue cannot create its next segment (a directory has its name) while the
// other's takes the batch: the request is refused, not acknowledged with a share missing.
TEST_F(ForwarderTest, ASubmitFailsWhenAnyEndpointsQueueFailsToWrite) {
  FakeStorage first;
  FakeStorage second;
  auto config = fastConfig(first.url());
  config.endpoints.push_back(second.url());
  auto forwarder = create(config);  // not started: everything stays queued
  const std::string second_port = second.url().substr(second.url().rfind(':') + 1);
  std::filesystem::path lane;
  for (const auto& entry : std::filesystem::directory_iterator(queue_.dir)) {
    if (entry.is_directory() &&
        entry.path().filename().string().find("_" + second_port + "_") != std::string::npos) {
      lane = entry.path();
    }
  }
  ASSERT_FALSE(lane.empty());
  std::string newest;
  for (const auto& entry : std::filesystem::directory_iterator(lane)) {
    if (entry.path().extension() == ".seg") newest = std::max(newest, entry.path().stem().string());
  }
  ASSERT_FALSE(newest.empty());
  const std::filesystem::path blocker = lane / fmt::format("{:020d}.seg", std::stoull(newest) + 1);
  ASSERT_TRUE(std::filesystem::create_directory(blocker));

  int accepted = 0;
  absl::Status status;
  while ((status = submit(*forwarder, incompressibleSeries(32 << 10, 10), 10)).ok() &&
         accepted < 20) {
    ++accepted;
  }
  EXPECT_EQ(accepted, 3);  // what fits in the 128 KiB segment
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("cannot create"));
  std::filesystem::remove(blocker);
  EXPECT_TRUE(submit(*forwarder, incompressibleSeries(32 << 10, 10), 10).ok());
  // The first endpoint holds the refused request too: the client's retry makes it a duplicate.
  EXPECT_EQ(metric(R"(remote_write_pending_batches\{endpoint=")" + first.url() + R"([^}]*\})"), 5);
  EXPECT_EQ(metric(R"(remote_write_pending_batches\{endpoint=")" + second.url() + R"([^}]*\})"), 4);
  EXPECT_EQ(metric(R"(remote_write_dropped_batches_total\{[^}]+\})"), 0);
}

// A send storage never answers, with a timeout far beyond the grace period: stop() cuts it off at
// its deadline and the batch stays queued. On the real clock, since the cut-off of a real request
// is the point: stop(200 ms) returns while storage still holds the sender, waited for with a
// generous limit that is still half of what holding on would take.
TEST_F(ForwarderTest, StopCutsOffASendInFlightAtItsDeadline) {
  testing::BlackHoleStorage storage(testing::BlackHole::kNeverAnswers);
  auto config = fastConfig(storage.url());
  config.timeout = 60s;
  auto forwarder = create(config);
  forwarder->start();
  ASSERT_TRUE(submit(*forwarder, encodedSeries(4), 4).ok());
  ASSERT_TRUE(
      testing::waitFor([&] { return storage.sendInFlight(); }));  // the request is in flight
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    forwarder->stop(200ms);
    stopped = true;
  });
  EXPECT_TRUE(testing::waitFor([&] { return stopped.load(); }, 30s));
  stopper.join();
  EXPECT_EQ(metric(R"(remote_write_pending_batches\{[^}]+\})"), 1);
}

// Storage asks for a retry in a minute: stop() ends that wait at its deadline, once the clock
// reaches it.
TEST_F(ForwarderTest, StopEndsARetryWaitAtItsDeadline) {
  FakeStorage storage;
  storage.answerAlways(503);
  storage.retryAfter("60");
  auto config = simulatedConfig(storage.url());
  config.retry_max_backoff = 120s;
  auto forwarder = create(config, clock_);
  forwarder->start();
  ASSERT_TRUE(submit(*forwarder, encodedSeries(4), 4).ok());
  ASSERT_TRUE(testing::waitFor([&] { return storage.requests() >= 1; }));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    forwarder->stop(200ms);
    stopped = true;
  });
  EXPECT_TRUE(testing::advanceUntil(clock_, 50ms, [&] { return stopped.load(); }));
  stopper.join();
  EXPECT_LT(clock_.now().time_since_epoch(), 60s);  // stopped long before the retry was due
  EXPECT_EQ(storage.requests(), 1);
  EXPECT_EQ(metric(R"(remote_write_pending_batches\{[^}]+\})"), 1);
}

}  // namespace
}  // namespace tp::forward
