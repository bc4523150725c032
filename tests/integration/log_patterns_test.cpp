// training_log_pattern end to end, on SQLite, PostgreSQL and MariaDB: two replicas of the real
// binary share the database while logs stream to both. A row added is used from the first
// reload that starts after it (each replica's training_pattern_reloads_total tells), and so is
// a row changed or deleted; an invalid row is counted and skipped while the others work; an
// autodiscovered blacklist row writes nothing but is counted; the replicas' hit counts add up
// in the row. The dry run answers what each replica would do with a line. On PostgreSQL, the
// table as Lens creates it is used as it is.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "soci/soci.h"
#include "storage/database.h"
#include "storage/log_patterns.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/database_servers.h"
#include "support/fluentbit_records.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/process.h"
#include "support/wait.h"

namespace tp {
namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;

// A trainer no built-in format knows.
std::string jaxLine(const std::string& word, long long step) {
  return "[rank 0] jax " + word + " " + std::to_string(step) + " loss=1.5";
}

class LogPatternsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server_ = testing::startDatabase(GetParam());
    auto database = storage::Database::create(server_->dbConfig());
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
    testing::insertTrainingPod(*database_);
    for (int i = 0; i < 2; ++i) {
      std::vector<std::string> env;
      std::vector<std::string> args = testing::databaseFlags(server_->dbConfig(), &env);
      args.insert(args.end(),
                  {"--cache.refreshInterval=200ms", "--training.flushInterval=20ms",
                   "--training.patternReloadInterval=300ms",
                   "--training.patternHitFlushInterval=300ms", "--http.maxBodyBytes=1048576"});
      auto& replica = replicas_.emplace_back();
      const uint16_t port = testing::startProcessor(replica, args, env);
      ASSERT_NE(port, 0);
      ports_.push_back(port);
    }
    ASSERT_TRUE(testing::waitFor(
        [&] {
          return std::all_of(ports_.begin(), ports_.end(), [](uint16_t port) {
            return testing::HttpClient(port).get("/readyz").status == 200u;
          });
        },
        60s, 50ms));
    post({testing::startLine(0)});
  }

  void TearDown() override {
    for (auto& replica : replicas_) testing::stopProcessor(*replica);
  }

  // MySQL reads a backslash in a literal as an escape; the regexes mean it as written.
  void sql(std::string statement) {
    if (GetParam() == "mysql") {
      for (size_t at = statement.find('\\'); at != std::string::npos;
           at = statement.find('\\', at + 2)) {
        statement.insert(at, 1, '\\');
      }
    }
    const absl::Status status =
        database_->run([&](soci::session& session) { session << statement; });
    ASSERT_TRUE(status.ok()) << status << ": " << statement;
  }

  long long number(const std::string& query) { return testing::queryNumber(*database_, query); }

  // Inserts an enabled row; returns its id.
  long long insert(const std::string& columns, const std::string& values) {
    sql("INSERT INTO training_log_pattern (enabled, " + columns + ") VALUES (TRUE, " + values +
        ")");
    return number("SELECT max(id) FROM training_log_pattern");
  }

  double metric(uint16_t port, const std::string& series) {
    return testing::metricValue(testing::HttpClient(port).get("/metrics").body, series).value_or(0);
  }

  // Waits until every replica has finished a reload that began after now: what the table holds
  // now is what they use then.
  void afterNextReload() {
    std::vector<double> before;
    for (uint16_t port : ports_) before.push_back(metric(port, "training_pattern_reloads_total"));
    // Reloads are sequential: once the second one after now has begun, the first has finished.
    ASSERT_TRUE(testing::waitFor(
        [&] {
          for (size_t i = 0; i < ports_.size(); ++i) {
            if (metric(ports_[i], "training_pattern_reloads_total") < before[i] + 2) return false;
          }
          return true;
        },
        60s, 20ms));
  }

  // The dry run on `port`.
  rapidjson::Document match(uint16_t port, const std::string& log) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.StartObject();
    writer.Key("log");
    writer.String(log.c_str());
    writer.EndObject();
    const testing::HttpResult result = testing::HttpClient(port).request(
        http::verb::post, "/v1/debug/test-log-match", buffer.GetString(),
        {{"Content-Type", "application/json"}});
    EXPECT_EQ(result.status, 200u) << result.body;
    rapidjson::Document document;
    document.Parse(result.body.c_str());
    rapidjson::Document data;
    if (document.IsObject() && document.HasMember("data"))
      data.CopyFrom(document["data"], data.GetAllocator());
    return data;
  }

  // The id of the pattern that decides `log` on every replica; 0 when none or a built-in one.
  std::vector<long long> winners(const std::string& log) {
    std::vector<long long> ids;
    for (uint16_t port : ports_) {
      const rapidjson::Document data = match(port, log);
      ids.push_back(data.IsObject() && data.HasMember("pattern_id") ? data["pattern_id"].GetInt64()
                                                                    : 0);
    }
    return ids;
  }

  // Posts one batch of `lines` to each replica in turn, waits until their rows are written.
  void post(const std::vector<std::string>& lines) {
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string body =
          "[" + testing::fluentBitRecord("train-0", "pod-0", lines[i], 1761223152.0 + i) + "]";
      const testing::HttpResult result =
          testing::HttpClient(ports_[i % ports_.size()])
              .request(http::verb::post, "/v1/logs", body, {{"Content-Type", "application/json"}});
      ASSERT_EQ(result.status, 200u) << result.body;
    }
    ASSERT_TRUE(testing::waitFor(
        [&] {
          return std::all_of(ports_.begin(), ports_.end(), [&](uint16_t port) {
            return metric(port, "training_rows_pending") == 0;
          });
        },
        60s, 20ms));
  }

  long long rows(long long iteration) {
    return number(
        "SELECT count(*) FROM training_performance WHERE workload_uid = 'w-job' AND "
        "iteration = " +
        std::to_string(iteration));
  }

  std::unique_ptr<testing::DatabaseServer> server_;
  std::unique_ptr<storage::Database> database_;
  std::vector<std::unique_ptr<testing::ChildProcess>> replicas_;
  std::vector<uint16_t> ports_;
};

TEST_P(LogPatternsTest, RowsAddedChangedAndDeletedWhileLogsStreamAreUsedFromTheNextReload) {
  post({jaxLine("step", 1), jaxLine("step", 2)});
  EXPECT_EQ(rows(1) + rows(2), 0);
  const long long id =
      insert("pattern, name, framework",
             R"('jax step (?P<CurrentIteration>\d+) loss=(?P<LmLoss>\S+)', 'jax-steps', 'jax')");
  afterNextReload();
  EXPECT_EQ(winners(jaxLine("step", 3)), (std::vector<long long>{id, id}));
  post({jaxLine("step", 3), jaxLine("step", 4)});
  EXPECT_EQ(rows(3), 1);
  EXPECT_EQ(rows(4), 1);

  sql(R"(UPDATE training_log_pattern SET pattern = 'jax iter (?P<CurrentIteration>\d+)', )"
      "updated_at = CURRENT_TIMESTAMP WHERE id = " +
      std::to_string(id));
  afterNextReload();
  post({jaxLine("iter", 5), jaxLine("step", 6)});
  EXPECT_EQ(rows(5), 1);
  EXPECT_EQ(rows(6), 0);

  // Deleted without touching any other row: Lens's check of updated_at would miss it.
  sql("DELETE FROM training_log_pattern WHERE id = " + std::to_string(id));
  afterNextReload();
  EXPECT_EQ(winners(jaxLine("iter", 7)), (std::vector<long long>{0, 0}));
  post({jaxLine("iter", 7), jaxLine("iter", 8)});
  EXPECT_EQ(rows(7) + rows(8), 0);
}

TEST_P(LogPatternsTest, AnInvalidRowIsCountedAndSkippedTheOthersWork) {
  insert("pattern, name", R"('jax step (?P<CurrentIteration>\d+', 'unbalanced')");
  insert("pattern, name", R"('jax (?P<SamplesPerSecond>\d+)', 'no-field')");
  const long long good = insert("pattern, name, sample_line",
                                R"('jax step (?P<CurrentIteration>\d+)', 'good', 'jax step 1')");
  afterNextReload();
  for (uint16_t port : ports_) {
    EXPECT_EQ(metric(port, "training_patterns_invalid"), 2);
    EXPECT_EQ(metric(port, "training_patterns_loaded"), 1);
  }
  const testing::HttpResult frameworks = testing::HttpClient(ports_[0]).get("/v1/debug/frameworks");
  EXPECT_EQ(frameworks.status, 200u);
  EXPECT_NE(frameworks.body.find(R"("name":"unbalanced")"), std::string::npos) << frameworks.body;
  EXPECT_EQ(winners(jaxLine("step", 11)), (std::vector<long long>{good, good}));
  post({jaxLine("step", 11), jaxLine("step", 12)});
  EXPECT_EQ(rows(11), 1);
  EXPECT_EQ(rows(12), 1);
}

TEST_P(LogPatternsTest, AnAutodiscoveredBlacklistRowWritesNothingAndIsCounted) {
  const long long id = insert("pattern, name, pattern_type, source",
                              R"('iteration', 'generated', 'blacklist', 'autodiscovered')");
  afterNextReload();
  post({testing::performanceLine(21), testing::performanceLine(22), testing::performanceLine(23),
        testing::performanceLine(24)});
  // The performance lines were not swallowed.
  for (long long iteration : {21, 22, 23, 24}) EXPECT_EQ(rows(iteration), 1) << iteration;
  const std::string series =
      "training_log_pattern_hits_total\\{pattern_id=\"" + std::to_string(id) + "\"\\}";
  EXPECT_EQ(metric(ports_[0], series) + metric(ports_[1], series), 4);
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return number("SELECT COALESCE(hit_count, 0) FROM training_log_pattern WHERE id = " +
                      std::to_string(id)) == 4;
      },
      60s, 20ms));
  // Made manual, it ends the analysis of every line it matches.
  sql("UPDATE training_log_pattern SET source = 'manual' WHERE id = " + std::to_string(id));
  afterNextReload();
  post({testing::performanceLine(25), testing::performanceLine(26)});
  EXPECT_EQ(rows(25) + rows(26), 0);
}

TEST_P(LogPatternsTest, TwoReplicasHitCountsAddUp) {
  const long long id =
      insert("pattern, name", R"('jax step (?P<CurrentIteration>\d+)', 'jax-steps')");
  afterNextReload();
  std::vector<std::string> lines;
  for (int step = 100; step < 130; ++step) lines.push_back(jaxLine("step", step));
  post(lines);
  const std::string hits =
      "SELECT COALESCE(hit_count, 0) FROM training_log_pattern WHERE id = " + std::to_string(id);
  ASSERT_TRUE(testing::waitFor([&] { return number(hits) == 30; }, 60s, 20ms)) << number(hits);
  EXPECT_EQ(number("SELECT count(*) FROM training_log_pattern WHERE last_hit_at IS NOT NULL"), 1);
  // The dry run counts nothing.
  for (int i = 0; i < 5; ++i) winners(jaxLine("step", 200 + i));
  afterNextReload();
  EXPECT_EQ(number(hits), 30);
}

TEST_P(LogPatternsTest, TheDryRunRefusesBadBodiesNamingTheProblem) {
  const auto status = [&](const std::string& body) {
    const testing::HttpResult result = testing::HttpClient(ports_[0]).request(
        http::verb::post, "/v1/debug/test-log-match", body, {{"Content-Type", "application/json"}});
    return std::make_pair(result.status, result.body);
  };
  for (const std::string body : {R"({"log":"trunc)", R"(["log"])", R"({"log":42})", R"({})", ""}) {
    const auto [code, text] = status(body);
    EXPECT_EQ(code, 400u) << body << ": " << text;
  }
  EXPECT_NE(status(R"({"log":42})").second.find("must be a string"), std::string::npos);
  EXPECT_NE(status(R"({})").second.find("has no"), std::string::npos);
  // A long line is answered whole; a body over http.maxBodyBytes is the server's 413.
  const std::string long_log(512 << 10, 'x');
  const auto [long_status, long_body] = status(R"({"log":")" + long_log + R"("})");
  EXPECT_EQ(long_status, 200u);
  EXPECT_NE(long_body.find(R"("log_length":524288)"), std::string::npos);
  EXPECT_EQ(status(R"({"log":")" + std::string(2 << 20, 'x') + R"("})").first, 413u);
}

// A Lens database whose training_log_pattern Lens created (its patch071 DDL, with the unique key
// on md5(pattern)): migration 6 leaves it as it is, and the rows, Lens's group names and the hit
// counts work on it.
TEST(LensPatternTable, TheTableLensCreatedIsUsedAsItIs) {
  testing::PostgresServer server;
  auto database = storage::Database::create(server.dbConfig());
  ASSERT_TRUE(database.ok()) << database.status();
  const absl::Status created = (*database)->run([](soci::session& sql) {
    sql << "CREATE TABLE training_log_pattern (id BIGSERIAL PRIMARY KEY, pattern TEXT NOT NULL, "
           "pattern_type TEXT NOT NULL DEFAULT 'performance', event_subtype TEXT, source TEXT NOT "
           "NULL DEFAULT 'manual', source_workload_uid TEXT, framework TEXT, name TEXT, "
           "description TEXT, sample_line TEXT, enabled BOOLEAN NOT NULL DEFAULT false, priority "
           "INTEGER NOT NULL DEFAULT 50, confidence FLOAT8 NOT NULL DEFAULT 0.5, hit_count BIGINT "
           "NOT NULL DEFAULT 0, last_hit_at TIMESTAMPTZ, created_at TIMESTAMPTZ NOT NULL DEFAULT "
           "NOW(), updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW())";
    sql << "CREATE UNIQUE INDEX idx_training_log_pattern_unique_pattern ON training_log_pattern "
           "(pattern_type, md5(pattern))";
    sql << "INSERT INTO training_log_pattern (pattern, pattern_type, event_subtype, source, "
           "framework, name, enabled, priority, confidence) VALUES ('saving checkpoint at "
           "iteration (?P<Iteration>\\d+) to (?P<Path>\\S+)', 'checkpoint_event', "
           "'start_saving', 'migration', 'primus', 'primus-checkpoint-start', true, 80, 0.95)";
  });
  ASSERT_TRUE(created.ok()) << created;
  std::vector<std::string> warnings;
  ASSERT_TRUE(storage::ensureSchema(**database, &warnings).ok());
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  auto rows = storage::readEnabledLogPatterns(**database);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].pattern,
            R"(saving checkpoint at iteration (?P<Iteration>\d+) to (?P<Path>\S+))");
  EXPECT_EQ((*rows)[0].priority, 80);
  EXPECT_EQ((*rows)[0].source, "migration");
  const storage::LogPatternHits hits[] = {{(*rows)[0].id, 7, 1761223152000000}};
  ASSERT_TRUE(storage::addLogPatternHits(**database, hits).ok());
  ASSERT_TRUE(storage::addLogPatternHits(**database, hits).ok());
  EXPECT_EQ(testing::queryNumber(**database, "SELECT hit_count FROM training_log_pattern"), 14);
  EXPECT_EQ(testing::queryNumber(**database,
                                 "SELECT count(*) FROM training_log_pattern WHERE last_hit_at = "
                                 "'2025-10-23 12:39:12+00'"),
            1);
}

INSTANTIATE_TEST_SUITE_P(Backends, LogPatternsTest,
                         ::testing::Values("sqlite", "postgres", "mysql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tp
