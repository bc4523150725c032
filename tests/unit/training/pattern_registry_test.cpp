// The training_log_pattern registry on SQLite, its clock simulated: rows added, changed, disabled
// and deleted take effect at the next reload; refused rows are counted and left out; hit counts
// reach the rows in batches, at most once per flush interval.

#include "training/pattern_registry.h"

#include <gtest/gtest.h>

#include <chrono>

#include "soci/soci.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/simulated_clock.h"
#include "support/temp_dir.h"

namespace tp::training {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kIterationLine = " iteration 5/ 10 | lm loss: 2.5 |";

class PatternRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::DbConfig config;
    config.path = (dir_ / "lens.db").string();
    auto database = storage::Database::create(config);
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
    metrics_ = telemetry_.trainingPatternMetrics();
    registry_ = std::make_unique<PatternRegistry>(
        *database_, std::make_shared<const PerformanceExtractor>(),
        PatternRegistryOptions{.reload_interval = 30s,
                               .hit_flush_interval = 10s,
                               .shadow_sources = {"autodiscovered"}},
        metrics_, clock_);
  }

  void sql(const std::string& statement) {
    const absl::Status status =
        database_->run([&](soci::session& session) { session << statement; });
    ASSERT_TRUE(status.ok()) << status << ": " << statement;
  }

  // Inserts an enabled row; returns its id.
  long long insert(const std::string& columns, const std::string& values) {
    sql("INSERT INTO training_log_pattern (enabled, " + columns + ") VALUES (TRUE, " + values +
        ")");
    return testing::queryNumber(*database_, "SELECT max(id) FROM training_log_pattern");
  }

  // Starts the registry and waits for its first read of the table.
  void start() {
    registry_->start();
    ASSERT_TRUE(testing::waitFor(
        [&] { return registry_->state().last_loaded.time_since_epoch().count() != 0; }));
  }

  std::string formatOf(std::string_view line) {
    Performance performance;
    const LineKind kind = registry_->current()->extract(line, &performance);
    return kind == LineKind::kNone ? "none" : std::string(performance.format);
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::Database> database_;
  telemetry::Telemetry telemetry_{"test"};
  telemetry::TrainingPatternMetrics metrics_{};
  testing::SimulatedClock clock_;
  std::unique_ptr<PatternRegistry> registry_;
};

TEST_F(PatternRegistryTest, RowsAddedChangedDisabledAndDeletedTakeEffectAtTheNextReload) {
  start();
  EXPECT_EQ(formatOf(kIterationLine), "megatron");
  const long long id =
      insert("pattern, name", R"('iteration\s+(?P<CurrentIteration>\d+)/', 'lens-iterations')");
  // Read again only after the interval.
  clock_.advance(29s);
  EXPECT_EQ(formatOf(kIterationLine), "megatron");
  ASSERT_TRUE(testing::advanceUntil(clock_, 1s,
                                    [&] { return formatOf(kIterationLine) == "lens-iterations"; }));
  const std::string row = std::to_string(id);
  sql("UPDATE training_log_pattern SET name = 'renamed' WHERE id = " + row);
  ASSERT_TRUE(
      testing::advanceUntil(clock_, 1s, [&] { return formatOf(kIterationLine) == "renamed"; }));
  sql("UPDATE training_log_pattern SET enabled = FALSE WHERE id = " + row);
  ASSERT_TRUE(
      testing::advanceUntil(clock_, 1s, [&] { return formatOf(kIterationLine) == "megatron"; }));
  sql("UPDATE training_log_pattern SET enabled = TRUE WHERE id = " + row);
  ASSERT_TRUE(
      testing::advanceUntil(clock_, 1s, [&] { return formatOf(kIterationLine) == "renamed"; }));
  sql("DELETE FROM training_log_pattern WHERE id = " + row);
  ASSERT_TRUE(
      testing::advanceUntil(clock_, 1s, [&] { return formatOf(kIterationLine) == "megatron"; }));
  EXPECT_EQ(metrics_.loaded->Value(), 0);
  registry_->stop();
}

TEST_F(PatternRegistryTest, ReplacedConfiguredFormatsKeepTheRowsInUse) {
  insert("pattern, name", R"('iteration\s+(?P<CurrentIteration>\d+)/', 'lens-iterations')");
  start();
  constexpr std::string_view kJaxLine = "I1024 step 120/5000 loss=2.5";
  EXPECT_EQ(formatOf(kIterationLine), "lens-iterations");
  EXPECT_EQ(formatOf(kJaxLine), "none");
  auto extractor = PerformanceExtractor::create(
      {{.name = "jax",
        .regex = R"(step (?P<current_iteration>\d+)/(?P<target_iteration>\d+) )"
                 R"(loss=(?P<lm_loss>\S+))"}});
  ASSERT_TRUE(extractor.ok()) << extractor.status();
  registry_->replaceBase(*std::move(extractor));
  EXPECT_EQ(formatOf(kJaxLine), "jax");
  EXPECT_EQ(formatOf(kIterationLine), "lens-iterations");
  registry_->stop();
}

TEST_F(PatternRegistryTest, PriorityOrdersTheRowsAndLensTypesMapToOurs) {
  insert("pattern, name, priority", R"('step (?P<current_iteration>\d+)', 'low', 10)");
  insert("pattern, name, priority", R"('step (?P<current_iteration>\d+)', 'high', 90)");
  insert("pattern, name, pattern_type, event_subtype",
         R"('^run begins$', 'begin', 'training_event', 'start_training')");
  insert("pattern, name, pattern_type, event_subtype",
         R"('^loaded (?P<Path>\S+)$', 'load', 'checkpoint_event', 'loading')");
  insert("pattern, name, pattern_type", R"('^noise', 'noise', 'blacklist')");
  ASSERT_TRUE(registry_->reload());
  Performance performance;
  const auto extractor = registry_->current();
  EXPECT_EQ(extractor->extract("step 3", &performance), LineKind::kPerformance);
  EXPECT_EQ(performance.format, "high");
  EXPECT_EQ(extractor->extract("run begins", &performance), LineKind::kStartTrain);
  EXPECT_EQ(extractor->extract("loaded /ckpt/iter_0000100", &performance),
            LineKind::kCheckpointLoadStart);
  EXPECT_EQ(performance.lifecycle.iteration, 100);
  EXPECT_EQ(extractor->extract("noise training ...", &performance), LineKind::kNone);
}

TEST_F(PatternRegistryTest, RefusedRowsAreCountedAndLeftOutTheRestKeepWorking) {
  insert("pattern, name", R"('step (?P<current_iteration>\d+', 'unbalanced')");
  insert("pattern, name", R"('Throughput (?P<SamplesPerSecond>\d+)', 'no-field')");
  insert("pattern, name, sample_line",
         R"('^step (?P<current_iteration>\d+)$', 'bad-sample', 'step three')");
  insert("pattern, name, pattern_type", R"('x', 'odd-type', 'metric')");
  insert("pattern, name, sample_line", R"('^step (?P<current_iteration>\d+)$', 'good', 'step 3')");
  ASSERT_TRUE(registry_->reload());
  EXPECT_EQ(metrics_.invalid->Value(), 4);
  EXPECT_EQ(metrics_.loaded->Value(), 1);
  EXPECT_EQ(formatOf("step 7"), "good");
  const PatternRegistryState state = registry_->state();
  ASSERT_EQ(state.invalid.size(), 4u);
  EXPECT_EQ(state.invalid[2].name, "bad-sample");
  EXPECT_EQ(state.invalid[2].problem, "its sample_line does not match it");
  // Fixed, it is used.
  sql("UPDATE training_log_pattern SET sample_line = 'step 4' WHERE name = 'bad-sample'");
  ASSERT_TRUE(registry_->reload());
  EXPECT_EQ(metrics_.invalid->Value(), 3);
  EXPECT_EQ(formatOf("step 7"), "bad-sample");
}

TEST_F(PatternRegistryTest, ShadowRowsCountButDecideNothingUntilMadeManual) {
  const long long id = insert("pattern, name, pattern_type, source",
                              R"('iteration', 'generated', 'blacklist', 'autodiscovered')");
  ASSERT_TRUE(registry_->reload());
  EXPECT_EQ(metrics_.shadow->Value(), 1);
  const auto extractor = registry_->current();
  std::vector<uint64_t> hits(extractor->storedCount(), 0);
  Performance performance;
  EXPECT_EQ(extractor->extract(kIterationLine, &performance, nullptr, hits),
            LineKind::kPerformance);
  registry_->recordHits(*extractor, hits);
  EXPECT_EQ(metrics_.hits->Add({{"pattern_id", std::to_string(id)}}).Value(), 1);
  sql("UPDATE training_log_pattern SET source = 'manual' WHERE id = " + std::to_string(id));
  ASSERT_TRUE(registry_->reload());
  EXPECT_EQ(formatOf(kIterationLine), "none");
  EXPECT_EQ(metrics_.shadow->Value(), 0);
}

TEST_F(PatternRegistryTest, HitsAreAddedToTheRowAtMostOncePerFlushInterval) {
  const long long id = insert("pattern, name", R"('step (?P<current_iteration>\d+)', 'steps')");
  start();
  const auto extractor = registry_->current();
  ASSERT_EQ(extractor->storedCount(), 1u);
  const std::string hit_count =
      "SELECT COALESCE(hit_count, 0) FROM training_log_pattern WHERE id = " + std::to_string(id);
  const std::vector<uint64_t> three = {3};
  registry_->recordHits(*extractor, three);
  // The first flush is due at once; the next hits wait for the interval.
  ASSERT_TRUE(testing::advanceUntil(
      clock_, 100ms, [&] { return testing::queryNumber(*database_, hit_count) == 3; }));
  registry_->recordHits(*extractor, three);
  clock_.advance(5s);
  ASSERT_TRUE(registry_->flushHits(false));
  EXPECT_EQ(testing::queryNumber(*database_, hit_count), 3);
  ASSERT_TRUE(testing::advanceUntil(
      clock_, 1s, [&] { return testing::queryNumber(*database_, hit_count) == 6; }));
  EXPECT_EQ(
      testing::queryNumber(
          *database_, "SELECT count(*) FROM training_log_pattern WHERE last_hit_at IS NOT NULL"),
      1);
  // What is left is written on stop.
  registry_->recordHits(*extractor, three);
  registry_->stop();
  EXPECT_EQ(testing::queryNumber(*database_, hit_count), 9);
}

TEST_F(PatternRegistryTest, AFailedReadKeepsThePatternsInUse) {
  insert("pattern, name", R"('step (?P<current_iteration>\d+)', 'steps')");
  ASSERT_TRUE(registry_->reload());
  sql("ALTER TABLE training_log_pattern RENAME TO hidden_patterns");
  EXPECT_FALSE(registry_->reload());
  EXPECT_EQ(metrics_.reload_failures->Value(), 1);
  EXPECT_EQ(formatOf("step 2"), "steps");
  sql("ALTER TABLE hidden_patterns RENAME TO training_log_pattern");
}

}  // namespace
}  // namespace tp::training
