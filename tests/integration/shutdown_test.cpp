// SIGTERM while storage is black-holed: the real binary exits 0 within shutdown.gracePeriod
// although metricsWrite.timeout is far longer, and the batch it could not deliver stays queued.
// Storage either takes the connection and never answers, or never takes it (its listen backlog is
// full, so the kernel drops the SYNs). The requirement is the grace period plus 1 s on an idle
// machine; the test allows 8 s more for a saturated one.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <thread>

#include "storage/database.h"
#include "storage/schema.h"
#include "support/black_hole_storage.h"
#include "support/cluster_rows.h"
#include "support/fluentbit_records.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/remote_write_bodies.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kGracePeriod = 2s;
constexpr auto kLoadedMachineMargin = 8s;

// SIGTERM, then exit 0 within the grace period (plus the margin for a loaded machine), waited for
// as a condition; how fast it exits is bench/ matter.
void expectSigtermExitsWithinTheGracePeriod(testing::ChildProcess& processor) {
  processor.signal(SIGTERM);
  const auto exit_code = processor.waitForExit(kGracePeriod + kLoadedMachineMargin);
  if (!exit_code.has_value()) {
    ADD_FAILURE() << "still running " << (kGracePeriod + kLoadedMachineMargin).count()
                  << " s after SIGTERM\n"
                  << processor.output();
    return;
  }
  EXPECT_EQ(*exit_code, 0) << processor.output();
}

class ShutdownTest : public ::testing::TestWithParam<testing::BlackHole> {
 protected:
  void SetUp() override {
    config::DbConfig db;
    db.path = (dir_ / "lens.db").string();
    auto database = storage::Database::create(db);
    ASSERT_TRUE(database.ok()) << database.status();
    ASSERT_TRUE(storage::ensureSchema(**database, nullptr).ok());
    testing::insertTrainingPod(**database);
  }

  testing::TempDir dir_{"tp-shutdown-"};
};

TEST_P(ShutdownTest, SigtermExitsWithinTheGracePeriodWhileStorageDoesNotAnswer) {
  testing::BlackHoleStorage storage(GetParam());
  std::unique_ptr<testing::ChildProcess> processor;
  const uint16_t port = testing::startProcessor(
      processor,
      {"--db.path=" + (dir_ / "lens.db").string(), "--queue.dir=" + (dir_ / "queue").string(),
       "--metricsWrite.endpoints=" + storage.url(), "--metricsWrite.timeout=120s",
       "--shutdown.gracePeriod=" + std::to_string(kGracePeriod.count()) + "s"});
  ASSERT_NE(port, 0);
  testing::HttpClient client(port);
  const auto written =
      client.request(boost::beast::http::verb::post, "/api/v1/write",
                     testing::gpuSampleBody(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count()),
                     {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "snappy"}});
  ASSERT_EQ(written.status, 204u) << written.body;
  ASSERT_TRUE(testing::waitFor([&] { return storage.sendInFlight(); }, 20s)) << processor->output();

  expectSigtermExitsWithinTheGracePeriod(*processor);
  EXPECT_THAT(processor->output(),
              ::testing::HasSubstr("1 batches stay queued for the next start"));
}

// The training writer's retry wait, grown long while the database refuses every write, ends at
// the deadline too; the rows stay in the journal.
TEST_F(ShutdownTest, SigtermExitsWithinTheGracePeriodWhileTheWriterWaitsToRetry) {
  std::unique_ptr<testing::ChildProcess> processor;
  const uint16_t port = testing::startProcessor(
      processor, {"--db.path=" + (dir_ / "lens.db").string(),
                  "--queue.dir=" + (dir_ / "queue").string(), "--training.retryMaxBackoff=60s",
                  "--shutdown.gracePeriod=" + std::to_string(kGracePeriod.count()) + "s"});
  ASSERT_NE(port, 0);
  config::DbConfig db;
  db.path = (dir_ / "lens.db").string();
  auto database = storage::Database::create(db);
  ASSERT_TRUE(database.ok()) << database.status();
  testing::exec(**database, "ALTER TABLE training_performance RENAME TO rows_away");
  testing::HttpClient client(port);
  const auto posted = client.request(
      boost::beast::http::verb::post, "/v1/logs",
      "[" + testing::fluentBitRecord("train-0", "pod-0", testing::performanceLine(1)) + "]",
      {{"Content-Type", "application/json"}});
  ASSERT_EQ(posted.status, 200u) << posted.body;
  // A wait of 10 s or more is longer than the grace period and margin.
  ASSERT_TRUE(processor->waitForOutput("kept for retry in [1-9][0-9]{4,} ms", 120s))
      << processor->output();
  static_assert(kGracePeriod + kLoadedMachineMargin <= 10s);

  expectSigtermExitsWithinTheGracePeriod(*processor);
  EXPECT_THAT(processor->output(), ::testing::HasSubstr("stay in the journal for the next start"));
}

INSTANTIATE_TEST_SUITE_P(BlackHoles, ShutdownTest,
                         ::testing::Values(testing::BlackHole::kNeverAnswers,
                                           testing::BlackHole::kNeverAccepts),
                         [](const auto& info) {
                           return std::string(info.param == testing::BlackHole::kNeverAnswers
                                                  ? "AcceptsAndNeverAnswers"
                                                  : "NeverAccepts");
                         });

}  // namespace
}  // namespace tp
