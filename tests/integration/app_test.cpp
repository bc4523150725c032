// Starts the real telemetry-processor binary and talks to it over loopback.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "http/auth.h"
#include "rapidjson/document.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/fluentbit_records.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tp {
namespace {

using testing::ChildProcess;
using ::testing::HasSubstr;
using testing::HttpClient;
using testing::processorBinary;
using namespace std::chrono_literals;

constexpr auto kStartTimeout = 20s;
const char* kListeningPattern = R"(listening on 127\.0\.0\.1:(\d+))";

class ProcessorTest : public ::testing::Test {
 protected:
  std::vector<std::string> baseArgs() const {
    return {"--httpPort=0", "--http.listenAddress=127.0.0.1",
            "--db.path=" + (work_dir_ / "lens.db").string(),
            "--queue.dir=" + (work_dir_ / "queue").string()};
  }

  // Starts the processor and returns its port.
  uint16_t start(std::vector<std::string> extra = {}, std::vector<std::string> env = {}) {
    auto args = baseArgs();
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<ChildProcess>(processorBinary(), args, env);
    const auto port = process_->waitForOutput(kListeningPattern, kStartTimeout);
    EXPECT_TRUE(port.has_value()) << process_->output();
    return port ? static_cast<uint16_t>(std::stoi(*port)) : 0;
  }

  testing::TempDir work_dir_;
  std::unique_ptr<ChildProcess> process_;
};

TEST_F(ProcessorTest, AnswersHealthReadinessAndMetrics) {
  const uint16_t port = start();
  ASSERT_NE(port, 0);
  // Ready once the caches are loaded from the embedded SQLite file, which it creates.
  ASSERT_TRUE(process_->waitForOutput("cluster state loaded", kStartTimeout)) << process_->output();
  EXPECT_TRUE(std::filesystem::exists(work_dir_ / "lens.db"));
  HttpClient client(port);
  for (const char* path : {"/healthz", "/v1/healthz", "/readyz", "/v1/readyz"}) {
    const auto result = client.get(path);
    EXPECT_EQ(result.status, 200u) << path;
    rapidjson::Document body;
    body.Parse(result.body.c_str());
    ASSERT_FALSE(body.HasParseError()) << result.body;
    EXPECT_EQ(body["meta"]["code"].GetInt(), 2000);
    if (std::string_view(path).ends_with("readyz")) {
      EXPECT_STREQ(body["data"]["clusterState"]["source"].GetString(), "database") << result.body;
      EXPECT_GE(body["data"]["clusterState"]["ageSeconds"].GetInt(), 0) << result.body;
    }
  }
  const auto metrics = client.get("/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_EQ(metrics.headers[boost::beast::http::field::content_type],
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(metrics.body,
              HasSubstr(R"(http_requests_total{route="/healthz",status_class="2xx"} 2)"));
  EXPECT_THAT(metrics.body,
              HasSubstr(R"(http_requests_total{route="/readyz",status_class="2xx"} 2)"));
  EXPECT_THAT(metrics.body, HasSubstr("http_request_duration_seconds_bucket{"));
  EXPECT_THAT(metrics.body, HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(metrics.body, HasSubstr("telemetry_processor_build_info{version="));
  EXPECT_TRUE(
      process_->waitForOutput("metric forwarding and training series disabled", kStartTimeout))
      << process_->output();
}

TEST_F(ProcessorTest, RejectsUnknownRouteWrongMethodAndOversizedBody) {
  const uint16_t port = start({"--http.maxBodyBytes=64KiB"});
  ASSERT_NE(port, 0);
  HttpClient client(port);
  const auto missing = client.get("/v1/unknown");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_THAT(missing.body, HasSubstr(R"("code":4001)"));
  const auto wrong_method = client.request(boost::beast::http::verb::post, "/v1/metrics", "x");
  EXPECT_EQ(wrong_method.status, 405u);
  EXPECT_EQ(wrong_method.headers[boost::beast::http::field::allow], "GET");

  HttpClient raw(port);
  raw.sendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n");
  const auto too_large = raw.readResponse();
  EXPECT_EQ(too_large.status, 413u);
  EXPECT_THAT(too_large.body, HasSubstr("exceeds the limit of 65536 bytes (http.maxBodyBytes)"));

  HttpClient after(port);
  EXPECT_EQ(after.get("/healthz").status, 200u);
}

TEST_F(ProcessorTest, AuthenticationIsCheckedBeforeTheBodyIsRead) {
  const uint16_t port =
      start({"--auth.basicUsers=fluent:bit s3cret"}, {"TP_AUTH_BEARERTOKENS=token-1,token-2"});
  ASSERT_NE(port, 0);
  ASSERT_TRUE(process_->waitForOutput("authentication required except on: /healthz, /readyz",
                                      kStartTimeout))
      << process_->output();
  // No credentials: 401 with the schemes, decided from the headers (the body never comes).
  HttpClient raw(port);
  raw.sendRaw(
      "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 1000000\r\n\r\n");
  const auto refused = raw.readResponse();
  EXPECT_EQ(refused.status, 401u);
  EXPECT_THAT(refused.body, HasSubstr("authentication required"));
  EXPECT_EQ(refused.headers[boost::beast::http::field::www_authenticate],
            R"(Bearer realm="telemetry-processor", Basic realm="telemetry-processor", )"
            R"(charset="UTF-8")");

  // A refused request's body is left unread, so the server closes that connection: one
  // connection per attempt.
  const auto post = [port](const std::string& authorization) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"}};
    if (!authorization.empty()) headers.emplace_back("Authorization", authorization);
    HttpClient client(port);
    return client.request(boost::beast::http::verb::post, "/v1/logs", "[]", headers).status;
  };
  EXPECT_EQ(post("Bearer token-2"), 200u);
  EXPECT_EQ(post("bearer token-1"), 200u);  // the scheme is case-insensitive
  EXPECT_EQ(post("Bearer token-3"), 401u);
  EXPECT_EQ(post("Bearer token-"), 401u);
  EXPECT_EQ(post("Basic " + http::base64Encode("fluent:bit s3cret")), 200u);
  EXPECT_EQ(post("Basic " + http::base64Encode("fluent:wrong")), 401u);
  EXPECT_EQ(post("Digest x"), 401u);
  EXPECT_EQ(post(""), 401u);
  // Probes stay open; everything else needs credentials.
  ASSERT_TRUE(process_->waitForOutput("cluster state loaded", kStartTimeout)) << process_->output();
  HttpClient client(port);
  EXPECT_EQ(client.get("/healthz").status, 200u);
  EXPECT_EQ(client.get("/v1/readyz").status, 200u);
  EXPECT_EQ(client.get("/metrics").status, 401u);
  EXPECT_EQ(client.get("/pods/cache").status, 401u);
}

TEST_F(ProcessorTest, BadAuthenticationSettingsStopTheStart) {
  ChildProcess process(processorBinary(), {"--auth.basicUsers=no-colon"});
  EXPECT_EQ(process.waitForExit(kStartTimeout), 2);
  EXPECT_THAT(process.output(),
              HasSubstr("invalid auth.basicUsers (flag --auth.basicUsers): entries must be "
                        "user:password"));
}

TEST_F(ProcessorTest, SigtermStopsGracefullyWithExitZero) {
  const uint16_t port = start();
  ASSERT_NE(port, 0);
  // A request whose body is still arriving when SIGTERM comes is finished, not cut off. (The
  // first request makes sure the connection was accepted before the signal.)
  HttpClient in_flight(port);
  EXPECT_EQ(in_flight.get("/healthz").status, 200u);
  in_flight.sendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
  process_->signal(SIGTERM);
  ASSERT_TRUE(process_->waitForOutput("shutting down", kStartTimeout)) << process_->output();
  in_flight.sendRaw("cd");
  const auto result = in_flight.readResponse();
  EXPECT_EQ(result.status, 200u);
  EXPECT_FALSE(result.keep_alive);
  const auto exit_code = process_->waitForExit(15s);
  ASSERT_TRUE(exit_code.has_value()) << process_->output();
  EXPECT_EQ(*exit_code, 0) << process_->output();
  EXPECT_THAT(process_->output(), HasSubstr("stopped"));
}

TEST_F(ProcessorTest, SigintAlsoStopsWithExitZero) {
  ASSERT_NE(start(), 0);
  process_->signal(SIGINT);
  const auto exit_code = process_->waitForExit(15s);
  ASSERT_TRUE(exit_code.has_value());
  EXPECT_EQ(*exit_code, 0);
}

TEST_F(ProcessorTest, InvalidDriverStopsTheStartNamingTheKey) {
  ChildProcess process(processorBinary(), {"--db.driver=oracle"});
  const auto exit_code = process.waitForExit(kStartTimeout);
  ASSERT_TRUE(exit_code.has_value());
  EXPECT_NE(*exit_code, 0);
  EXPECT_THAT(process.output(), HasSubstr("db.driver"));
  EXPECT_THAT(process.output(), HasSubstr("'oracle' is not one of"));
}

TEST_F(ProcessorTest, UnknownFlagStopsTheStart) {
  ChildProcess process(processorBinary(), {"--db.flavour=x"});
  const auto exit_code = process.waitForExit(kStartTimeout);
  ASSERT_TRUE(exit_code.has_value());
  EXPECT_NE(*exit_code, 0);
  EXPECT_THAT(process.output(), HasSubstr("--db.flavour"));
}

TEST_F(ProcessorTest, EnvironmentAndConfigFileAreRead) {
  const auto config_path = work_dir_ / "config.yaml";
  std::ofstream(config_path) << "log:\n  level: debug\nmetricsWrite:\n  endpoints:\n"
                                "    - http://127.0.0.1:1/api/v1/write\n";
  const uint16_t port = start({"--config=" + config_path.string()}, {"TP_HTTP_THREADS=1"});
  ASSERT_NE(port, 0);
  EXPECT_TRUE(
      process_->waitForOutput("metric storage endpoints: http://127\\.0\\.0\\.1:1", kStartTimeout))
      << process_->output();
}

TEST_F(ProcessorTest, InvalidEnvironmentValueNamesTheVariable) {
  ChildProcess process(processorBinary(), baseArgs(), {"TP_CACHE_REFRESHINTERVAL=often"});
  const auto exit_code = process.waitForExit(kStartTimeout);
  ASSERT_TRUE(exit_code.has_value());
  EXPECT_NE(*exit_code, 0);
  EXPECT_THAT(process.output(),
              HasSubstr("invalid cache.refreshInterval (env TP_CACHE_REFRESHINTERVAL)"));
}

TEST_F(ProcessorTest, PortInUseFailsWithAMessage) {
  const uint16_t port = start();
  ASSERT_NE(port, 0);
  ChildProcess second(processorBinary(),
                      {"--httpPort=" + std::to_string(port), "--http.listenAddress=127.0.0.1",
                       testing::freshQueueDirFlag()});
  const auto exit_code = second.waitForExit(kStartTimeout);
  ASSERT_TRUE(exit_code.has_value());
  EXPECT_NE(*exit_code, 0);
  EXPECT_THAT(second.output(), HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(port)));
}

TEST_F(ProcessorTest, ExtractPrintsWhatTheTrainingLogExtractorFinds) {
  const auto log = work_dir_ / "train.log";
  std::ofstream(log)
      << "[rank-0/8][INFO ] [trainer.py:1990] : training ...\n"
         "unrelated line\n"
         " iteration 7/ 70 | consumed samples: 448 | elapsed time per iteration (s): "
         "1.5 | lm loss: nan |\n"
         "  exit_on_missing_checkpoint_during_training ....... False\n";
  ChildProcess extract(processorBinary(), {"extract", log.string()});
  ASSERT_EQ(extract.waitForExit(kStartTimeout), 0) << extract.output();
  EXPECT_EQ(extract.output(),
            "{\"line\":1,\"event\":\"StartTrain\"}\n"
            "{\"line\":3,\"format\":\"megatron\",\"fields\":{\"current_iteration\":7,"
            "\"target_iteration\":70,\"consumed_samples\":448,"
            "\"elapsed_time_per_iteration_ms\":1500.0,\"lm_loss\":\"NaN\"}}\n");
}

TEST_F(ProcessorTest, ExtractUsesPatternsFromConfigurationAndRefusesBadOnes) {
  const auto log = work_dir_ / "jax.log";
  std::ofstream(log) << "I1024 step 120/5000 loss=2.5\nstep without numbers\n";
  const auto config = work_dir_ / "patterns.yaml";
  std::ofstream(config)
      << "training:\n  patterns:\n    - name: jax\n"
         "      regex: 'step (?P<current_iteration>\\d+)/(?P<target_iteration>\\d+) "
         "loss=(?P<lm_loss>\\S+)'\n      prefilter: 'step '\n";
  ChildProcess extract(processorBinary(), {"--config=" + config.string(), "extract", log.string()});
  ASSERT_EQ(extract.waitForExit(kStartTimeout), 0) << extract.output();
  EXPECT_EQ(extract.output(),
            "{\"line\":1,\"format\":\"jax\",\"fields\":{\"current_iteration\":120,"
            "\"target_iteration\":5000,\"lm_loss\":2.5}}\n");

  ChildProcess bad(processorBinary(),
                   {"--training.patterns=[{\"name\": \"broken\", \"regex\": \"(?P<lm_loss>x\"}]",
                    "extract", log.string()});
  EXPECT_EQ(bad.waitForExit(kStartTimeout), 2);
  EXPECT_THAT(bad.output(), HasSubstr("invalid training.patterns: pattern 'broken': missing )"));
}

TEST_F(ProcessorTest, HelpListsEveryKeyAndVersionPrints) {
  ChildProcess help(processorBinary(), {"--help"});
  ASSERT_EQ(help.waitForExit(kStartTimeout), 0);
  for (const char* key : {"--httpPort", "--db.driver", "--metricsWrite.endpoints",
                          "--cache.refreshInterval", "--queue.maxDiskUsage", "TP_DB_DRIVER",
                          "[default: 8989]", "[default: 32MiB]", "[default: 20s]"}) {
    EXPECT_THAT(help.output(), HasSubstr(key));
  }
  ChildProcess version(processorBinary(), {"--version"});
  ASSERT_EQ(version.waitForExit(kStartTimeout), 0);
  EXPECT_THAT(version.output(),
              ::testing::MatchesRegex("telemetry-processor [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

// A configuration file for the reload tests: credentials, log level, one stall threshold, and
// the lines after them as they are.
void writeReloadConfig(const std::filesystem::path& file, const std::string& token,
                       const std::string& level, const std::string& stall_factor,
                       const std::string& more = {}) {
  std::ofstream(file) << "auth:\n  bearerTokens: [" << token << "]\nlog:\n  level: " << level
                      << "\ntraining:\n  stall:\n    factor: " << stall_factor << "\n"
                      << more;
}

constexpr const char* kJaxPattern =
    "  patterns:\n    - name: jax\n"
    "      regex: 'jax step (?P<current_iteration>\\d+) loss=(?P<lm_loss>\\S+)'\n";

std::vector<std::pair<std::string, std::string>> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

std::vector<std::string> stringsOf(const rapidjson::Value& array) {
  std::vector<std::string> out;
  for (const auto& item : array.GetArray()) out.emplace_back(item.GetString());
  return out;
}

// Whether the dry run on `client` finds the configured jax format for a jax line.
bool jaxLineMatches(HttpClient& client, const std::string& token) {
  const auto result = client.request(boost::beast::http::verb::post, "/v1/debug/test-log-match",
                                     R"({"log":"jax step 120 loss=2.5"})", bearer(token));
  EXPECT_EQ(result.status, 200u) << result.body;
  rapidjson::Document body;
  body.Parse(result.body.c_str());
  if (body.HasParseError() || !body.HasMember("data")) return false;
  const auto& data = body["data"];
  return data["matched"].GetBool() && std::string_view(data["name"].GetString()) == "jax";
}

double reloads(HttpClient& client, const std::string& token, const std::string& result) {
  const auto metrics =
      client.request(boost::beast::http::verb::get, "/metrics", {}, bearer(token)).body;
  return testing::metricValue(metrics, R"(config_reloads_total\{result=")" + result + R"("\})")
      .value_or(0);
}

TEST_F(ProcessorTest, ReloadAppliesReloadableKeysOnAKeptConnection) {
  const auto config = work_dir_ / "reload.yaml";
  writeReloadConfig(config, "old-token", "info", "10");
  const uint16_t port = start({"--config=" + config.string()});
  ASSERT_NE(port, 0);
  // Opened before the reload, used after it: the server keeps its connections.
  HttpClient kept(port);
  EXPECT_EQ(kept.request(boost::beast::http::verb::get, "/metrics", {}, bearer("old-token")).status,
            200u);
  EXPECT_FALSE(jaxLineMatches(kept, "old-token"));

  writeReloadConfig(config, "new-token", "warn", "20",
                    std::string(kJaxPattern) + "cache:\n  refreshInterval: 5s\n");
  EXPECT_EQ(HttpClient(port).request(boost::beast::http::verb::post, "/-/reload").status, 401u);
  const auto reloaded =
      kept.request(boost::beast::http::verb::post, "/v1/-/reload", {}, bearer("old-token"));
  ASSERT_EQ(reloaded.status, 200u) << reloaded.body;
  rapidjson::Document answer;
  answer.Parse(reloaded.body.c_str());
  ASSERT_FALSE(answer.HasParseError()) << reloaded.body;
  EXPECT_EQ(answer["meta"]["code"].GetInt(), 2000);
  EXPECT_TRUE(answer["data"]["reloaded"].GetBool());
  EXPECT_THAT(stringsOf(answer["data"]["changed"]),
              ::testing::ElementsAre("training.patterns", "training.stall.factor",
                                     "auth.bearerTokens", "log.level"));
  EXPECT_THAT(stringsOf(answer["data"]["restart_needed"]),
              ::testing::ElementsAre("cache.refreshInterval"));

  EXPECT_EQ(kept.request(boost::beast::http::verb::get, "/metrics", {}, bearer("old-token")).status,
            401u);
  EXPECT_EQ(reloads(kept, "new-token", "success"), 1);
  EXPECT_TRUE(jaxLineMatches(kept, "new-token"));

  // A value out of range: refused with the key, nothing applied.
  writeReloadConfig(config, "third-token", "info", "0");
  const auto refused =
      kept.request(boost::beast::http::verb::post, "/-/reload", {}, bearer("new-token"));
  EXPECT_EQ(refused.status, 400u);
  EXPECT_THAT(refused.body, HasSubstr("invalid training.stall.factor"));
  EXPECT_THAT(refused.body, HasSubstr(R"("code":4001)"));
  EXPECT_EQ(reloads(kept, "new-token", "failure"), 1);
  EXPECT_TRUE(jaxLineMatches(kept, "new-token"));
  ASSERT_TRUE(
      process_->waitForOutput("configuration reload refused, the running configuration "
                              "stays: config: invalid training.stall.factor",
                              kStartTimeout))
      << process_->output();
  // log.level warn was in effect: the first reload's own info line was not written.
  EXPECT_THAT(process_->output(), ::testing::Not(HasSubstr("configuration reloaded")));
}

TEST_F(ProcessorTest, SighupReloadsAndAnInvalidFileKeepsTheRunningConfiguration) {
  const auto config = work_dir_ / "reload.yaml";
  writeReloadConfig(config, "token-a", "info", "10");
  const uint16_t port = start({"--config=" + config.string()});
  ASSERT_NE(port, 0);
  HttpClient kept(port);
  EXPECT_EQ(kept.request(boost::beast::http::verb::get, "/metrics", {}, bearer("token-a")).status,
            200u);

  writeReloadConfig(config, "token-b", "info", "10");
  process_->signal(SIGHUP);
  ASSERT_TRUE(process_->waitForOutput(
      R"(configuration reloaded; changed: \[auth\.bearerTokens\]; needing a restart: \[\])",
      kStartTimeout))
      << process_->output();
  EXPECT_EQ(kept.request(boost::beast::http::verb::get, "/metrics", {}, bearer("token-b")).status,
            200u);
  EXPECT_EQ(kept.request(boost::beast::http::verb::get, "/metrics", {}, bearer("token-a")).status,
            401u);

  writeReloadConfig(config, "token-c", "loud", "10");
  process_->signal(SIGHUP);
  ASSERT_TRUE(process_->waitForOutput(
      "configuration reload refused, the running configuration stays: config: invalid log.level",
      kStartTimeout))
      << process_->output();
  EXPECT_EQ(kept.request(boost::beast::http::verb::get, "/metrics", {}, bearer("token-b")).status,
            200u);
  EXPECT_EQ(kept.request(boost::beast::http::verb::get, "/metrics", {}, bearer("token-c")).status,
            401u);
  EXPECT_EQ(reloads(kept, "token-b", "success"), 1);
  EXPECT_EQ(reloads(kept, "token-b", "failure"), 1);
  process_->signal(SIGTERM);
  EXPECT_EQ(process_->waitForExit(15s), 0) << process_->output();
}

TEST_F(ProcessorTest, AReloadedPatternTurnsItsLinesIntoRows) {
  config::DbConfig db;
  db.path = (work_dir_ / "lens.db").string();
  auto database = storage::Database::create(db);
  ASSERT_TRUE(database.ok()) << database.status();
  ASSERT_TRUE(storage::ensureSchema(**database, nullptr).ok());
  testing::insertTrainingPod(**database);
  const auto config = work_dir_ / "reload.yaml";
  std::ofstream(config) << "log:\n  level: info\n";
  const uint16_t port = start({"--config=" + config.string(), "--cache.refreshInterval=200ms",
                               "--training.flushInterval=20ms"});
  ASSERT_NE(port, 0);
  HttpClient client(port);
  ASSERT_TRUE(testing::waitFor([&] { return client.get("/readyz").status == 200u; }));
  const auto post = [&](const std::string& line, double date) {
    const auto result =
        client.request(boost::beast::http::verb::post, "/logs",
                       "[" + testing::fluentBitRecord("train-0", "pod-0", line, date) + "]",
                       {{"Content-Type", "application/json"}});
    ASSERT_EQ(result.status, 200u) << result.body;
    ASSERT_TRUE(testing::waitFor([&] {
      return testing::metricValue(client.get("/metrics").body, "training_rows_pending") == 0;
    }));
  };
  const auto rows = [&](int iteration) {
    return testing::queryNumber(**database,
                                "SELECT count(*) FROM training_performance WHERE workload_uid = "
                                "'w-job' AND iteration = " +
                                    std::to_string(iteration));
  };
  post(testing::startLine(0), 1761223152.0);
  post("jax step 120 loss=2.5", 1761223153.0);
  EXPECT_EQ(rows(120), 0);

  std::ofstream(config) << "training:\n" << kJaxPattern;
  ASSERT_EQ(client.request(boost::beast::http::verb::post, "/-/reload").status, 200u);
  post("jax step 121 loss=2.4", 1761223154.0);
  EXPECT_EQ(rows(121), 1);
}

}  // namespace
}  // namespace tp
