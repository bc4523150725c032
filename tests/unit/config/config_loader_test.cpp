#include "config/config_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "support/temp_dir.h"

namespace tp::config {
namespace {

using ::testing::HasSubstr;

class ConfigLoaderTest : public ::testing::Test {
 protected:
  std::string writeFile(const std::string& text, const std::string& suffix = ".yaml") {
    const auto path = dir_ / ("config-" + std::to_string(files_written_++) + suffix);
    std::ofstream(path) << text;
    return path.string();
  }

  absl::StatusOr<Config> load(std::optional<std::string> file,
                              std::map<std::string, std::string> env,
                              std::vector<std::pair<std::string, std::string>> flags) {
    env_ = std::move(env);
    ConfigSources sources;
    sources.file_path = std::move(file);
    sources.getenv = [this](const char* name) -> const char* {
      const auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
    sources.flags = std::move(flags);
    return loadConfig(sources);
  }

  std::string errorOf(const absl::StatusOr<Config>& result) {
    EXPECT_FALSE(result.ok());
    return std::string(result.status().message());
  }

  testing::TempDir dir_;
  int files_written_ = 0;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigLoaderTest, DefaultsMatchTheSpec) {
  auto config = load(std::nullopt, {}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http_port, 8989);
  EXPECT_EQ(config->db.driver, DbDriver::kSqlite);
  EXPECT_EQ(config->db.path, "data/telemetry-processor.db");
  EXPECT_TRUE(config->metrics_write.endpoints.empty());
  EXPECT_EQ(config->cache.refresh_interval, std::chrono::seconds(20));
  EXPECT_EQ(config->http.max_body_bytes, 32u << 20);
  EXPECT_EQ(config->http.max_decoded_bytes, 64u << 20);
  EXPECT_EQ(config->queue.dir, "data/queue");
  EXPECT_EQ(config->queue.max_disk_usage, 1u << 30);
  EXPECT_EQ(config->queue.fsync, FsyncMode::kInterval);
  EXPECT_EQ(config->queue.when_full, WhenFull::kReject);
  EXPECT_EQ(config->log.level, LogLevel::kInfo);
}

TEST_F(ConfigLoaderTest, PrecedenceIsFlagOverEnvOverFileOverDefault) {
  const std::string file = writeFile(
      "httpPort: 9001\n"
      "db:\n  driver: postgres\n  host: db-from-file\n  port: 5433\n"
      "cache:\n  refreshInterval: 30s\n");
  auto config =
      load(file, {{"TP_HTTPPORT", "9002"}, {"TP_DB_HOST", "db-from-env"}}, {{"httpPort", "9003"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http_port, 9003);                                   // flag
  EXPECT_EQ(config->db.host, "db-from-env");                            // env over file
  EXPECT_EQ(config->db.port, 5433);                                     // file over default
  EXPECT_EQ(config->db.driver, DbDriver::kPostgres);                    // file
  EXPECT_EQ(config->cache.refresh_interval, std::chrono::seconds(30));  // file
  EXPECT_EQ(config->log.level, LogLevel::kInfo);                        // default
}

TEST_F(ConfigLoaderTest, LastFlagWins) {
  auto config = load(std::nullopt, {}, {{"httpPort", "1"}, {"httpPort", "2"}});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->http_port, 2);
}

TEST_F(ConfigLoaderTest, JsonFileIsAccepted) {
  const std::string file = writeFile(
      R"({"httpPort": 7000, "metricsWrite": {"endpoints": ["http://a:8428", "http://b:8428"]},
          "db": {"enable_ssl": true}})",
      ".json");
  auto config = load(file, {}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http_port, 7000);
  EXPECT_THAT(config->metrics_write.endpoints,
              ::testing::ElementsAre("http://a:8428", "http://b:8428"));
  EXPECT_TRUE(config->db.enable_ssl);
}

TEST_F(ConfigLoaderTest, EndpointsAcceptCommaSeparatedStrings) {
  auto config = load(std::nullopt, {{"TP_METRICSWRITE_ENDPOINTS", "http://a:1, http://b:2/x"}}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->metrics_write.endpoints,
              ::testing::ElementsAre("http://a:1", "http://b:2/x"));
  auto cleared = load(std::nullopt, {{"TP_METRICSWRITE_ENDPOINTS", "http://a:1"}},
                      {{"metricsWrite.endpoints", ""}});
  ASSERT_TRUE(cleared.ok());
  EXPECT_TRUE(cleared->metrics_write.endpoints.empty());
}

TEST_F(ConfigLoaderTest, SizesAndDurationsTakeUnits) {
  auto config = load(std::nullopt, {},
                     {{"http.maxBodyBytes", "8MiB"},
                      {"queue.maxDiskUsage", "2GiB"},
                      {"cache.refreshInterval", "500ms"},
                      {"shutdown.gracePeriod", "1m"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http.max_body_bytes, 8u << 20);
  EXPECT_EQ(config->queue.max_disk_usage, 2ull << 30);
  EXPECT_EQ(config->cache.refresh_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(config->shutdown.grace_period, std::chrono::minutes(1));
}

TEST_F(ConfigLoaderTest, EnvNamesFollowTheKeyPath) {
  EXPECT_EQ(envNameForKey("httpPort"), "TP_HTTPPORT");
  EXPECT_EQ(envNameForKey("db.driver"), "TP_DB_DRIVER");
  EXPECT_EQ(envNameForKey("db.user_name"), "TP_DB_USER_NAME");
  EXPECT_EQ(envNameForKey("metricsWrite.endpoints"), "TP_METRICSWRITE_ENDPOINTS");
}

TEST_F(ConfigLoaderTest, EveryKeyIsDocumentedWithItsDefault) {
  const auto& keys = configKeys();
  ASSERT_GE(keys.size(), 20u);
  for (const auto& key : keys) {
    EXPECT_FALSE(key.help.empty()) << key.path;
    EXPECT_EQ(key.env_name, envNameForKey(key.path));
  }
  const auto port = std::find_if(keys.begin(), keys.end(),
                                 [](const KeyInfo& key) { return key.path == "httpPort"; });
  ASSERT_NE(port, keys.end());
  EXPECT_EQ(port->default_value, "8989");
  const auto when_full = std::find_if(
      keys.begin(), keys.end(), [](const KeyInfo& key) { return key.path == "queue.whenFull"; });
  ASSERT_NE(when_full, keys.end());
  EXPECT_EQ(when_full->default_value, "reject");
}

TEST_F(ConfigLoaderTest, EnumKeysTakeTheNamesTheyPrint) {
  auto config = load(std::nullopt, {},
                     {{"db.driver", "mysql"},
                      {"queue.fsync", "always"},
                      {"queue.whenFull", "drop_oldest"},
                      {"log.level", "off"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->db.driver, DbDriver::kMysql);
  EXPECT_EQ(config->queue.fsync, FsyncMode::kAlways);
  EXPECT_EQ(config->queue.when_full, WhenFull::kDropOldest);
  EXPECT_EQ(config->log.level, LogLevel::kOff);
  EXPECT_EQ(nameOf(kWhenFullNames, config->queue.when_full), "drop_oldest");
}

// Every validation error names the key, the bad value and where it came from.
struct InvalidCase {
  std::string key;
  std::string value;
  std::string reason;
};

class InvalidFlagTest : public ConfigLoaderTest,
                        public ::testing::WithParamInterface<InvalidCase> {};

TEST_P(InvalidFlagTest, NamesKeyAndReason) {
  const InvalidCase& param = GetParam();
  const std::string error = errorOf(load(std::nullopt, {}, {{param.key, param.value}}));
  EXPECT_THAT(error, HasSubstr("invalid " + param.key));
  EXPECT_THAT(error, HasSubstr("flag --" + param.key));
  EXPECT_THAT(error, HasSubstr(param.reason));
}

INSTANTIATE_TEST_SUITE_P(
    Validation, InvalidFlagTest,
    ::testing::Values(
        InvalidCase{"db.driver", "oracle", "'oracle' is not one of: sqlite, postgres, mysql"},
        InvalidCase{"httpPort", "http", "'http' is not an integer"},
        InvalidCase{"httpPort", "70000", "70000 is outside 0..65535"},
        InvalidCase{"httpPort", "-1", "-1 is outside 0..65535"},
        InvalidCase{"db.port", "5432x", "not an integer"},
        InvalidCase{"http.threads", "1000", "outside 0..256"},
        InvalidCase{"db.enable_ssl", "maybe", "not a boolean"},
        InvalidCase{"http.maxBodyBytes", "lots", "does not start with a number"},
        InvalidCase{"http.maxBodyBytes", "10PB", "unknown size unit"},
        InvalidCase{"http.maxBodyBytes", "10", "below the minimum of 1KiB"},
        InvalidCase{"http.maxDecodedBytes", "1B", "below the minimum"},
        InvalidCase{"queue.maxDiskUsage", "1KiB", "below the minimum of 1MiB"},
        InvalidCase{"cache.refreshInterval", "20", "needs a unit"},
        InvalidCase{"cache.refreshInterval", "1ms", "below the minimum of 100ms"},
        InvalidCase{"http.headerTimeout", "5 days", "unknown duration unit"},
        InvalidCase{"shutdown.gracePeriod", "soon", "does not start with a number"},
        InvalidCase{"log.level", "verbose", "not one of: trace, debug, info, warn, error, off"},
        InvalidCase{"queue.fsync", "never", "'never' is not one of: interval, always"},
        InvalidCase{"queue.whenFull", "block", "'block' is not one of: reject, drop_oldest"},
        InvalidCase{"metricsWrite.endpoints", "vm:8428", "not an http:// or https:// URL"},
        InvalidCase{"metricsWrite.endpoints", "https://vm:8428", "only http://"},
        InvalidCase{"metricsWrite.endpoints", "http://ok:1,http://:2", "has no host"}),
    [](const ::testing::TestParamInfo<InvalidCase>& info) {
      std::string name = std::to_string(info.index) + "_" + info.param.key;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST_F(ConfigLoaderTest, UnknownFlagKeyIsNamed) {
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"db.engine", "x"}})),
              HasSubstr("unknown key 'db.engine' (flag --db.engine)"));
}

TEST_F(ConfigLoaderTest, InvalidEnvValueNamesTheVariable) {
  EXPECT_THAT(errorOf(load(std::nullopt, {{"TP_HTTPPORT", "abc"}}, {})),
              HasSubstr("invalid httpPort (env TP_HTTPPORT)"));
}

TEST_F(ConfigLoaderTest, UnknownFileKeyIsNamedWithItsLine) {
  const std::string file = writeFile("httpPort: 1\ndb:\n  driver: sqlite\n  flavour: x\n");
  EXPECT_THAT(errorOf(load(file, {}, {})),
              HasSubstr("unknown key 'db.flavour' (file " + file + " line 4)"));
}

TEST_F(ConfigLoaderTest, UnknownTopLevelSectionIsNamed) {
  const std::string file = writeFile("tracing:\n  enabled: true\n");
  EXPECT_THAT(errorOf(load(file, {}, {})),
              HasSubstr("unknown key 'tracing' (file " + file + " line 2)"));
}

TEST_F(ConfigLoaderTest, ListForScalarKeyIsRejected) {
  const std::string file = writeFile("httpPort: [1, 2]\n");
  EXPECT_THAT(errorOf(load(file, {}, {})),
              HasSubstr("invalid httpPort (file " + file + " line 1): expected a single value"));
}

TEST_F(ConfigLoaderTest, MapForScalarKeyIsRejected) {
  const std::string file = writeFile("db:\n  driver:\n    name: sqlite\n");
  EXPECT_THAT(errorOf(load(file, {}, {})), HasSubstr("invalid db.driver"));
}

TEST_F(ConfigLoaderTest, NestedListItemsMustBePlain) {
  const std::string file = writeFile("metricsWrite:\n  endpoints:\n    - {url: x}\n");
  EXPECT_THAT(errorOf(load(file, {}, {})),
              HasSubstr("invalid metricsWrite.endpoints (file " + file + " line 3)"));
}

TEST_F(ConfigLoaderTest, YamlSyntaxErrorNamesTheFile) {
  const std::string file = writeFile("httpPort: [1\n");
  EXPECT_THAT(errorOf(load(file, {}, {})), HasSubstr("cannot parse " + file));
}

TEST_F(ConfigLoaderTest, TopLevelMustBeAMap) {
  const std::string file = writeFile("- a\n- b\n");
  EXPECT_THAT(errorOf(load(file, {}, {})), HasSubstr("must hold a map of keys"));
}

TEST_F(ConfigLoaderTest, EmptyFileMeansDefaults) {
  const std::string file = writeFile("");
  auto config = load(file, {}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http_port, 8989);
}

TEST_F(ConfigLoaderTest, MissingFileIsNamed) {
  EXPECT_THAT(errorOf(load("/nonexistent/tp.yaml", {}, {})),
              HasSubstr("cannot open file '/nonexistent/tp.yaml'"));
}

TEST_F(ConfigLoaderTest, OversizedFileIsRejected) {
  const std::string file = writeFile("# " + std::string(2 << 20, 'x') + "\n");
  EXPECT_THAT(errorOf(load(file, {}, {})), HasSubstr("larger than 1 MiB"));
}

TEST_F(ConfigLoaderTest, DeepNestingIsRejectedNotRecursedForever) {
  std::string text = "db:\n";
  std::string indent = "  ";
  for (int i = 0; i < 50; ++i) {
    text += indent + "k" + std::to_string(i) + ":\n";
    indent += "  ";
  }
  text += indent + "v: 1\n";
  const std::string file = writeFile(text);
  EXPECT_THAT(errorOf(load(file, {}, {})), HasSubstr("unknown key 'db.k0"));
}

TEST_F(ConfigLoaderTest, CombinationsAreChecked) {
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"db.path", ""}})),
              HasSubstr("invalid db.path: empty, and db.driver is sqlite"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"db.driver", "mysql"}, {"db.host", ""}})),
              HasSubstr("invalid db.host: empty, and db.driver is mysql"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"queue.dir", ""}})),
              HasSubstr("invalid queue.dir: empty"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"http.tlsCertFile", "/etc/tls/cert.pem"}})),
              HasSubstr("invalid http.tlsCertFile / http.tlsKeyFile: set both"));
  auto both = load(std::nullopt, {},
                   {{"http.tlsCertFile", "/etc/tls/cert.pem"}, {"http.tlsKeyFile", "/etc/tls/k"}});
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->http.tls_key_file, "/etc/tls/k");
}

TEST_F(ConfigLoaderTest, NullValueMeansEmpty) {
  const std::string file = writeFile("db:\n  password:\n");
  auto config = load(file, {}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->db.password, "");
}

TEST(LoadConfigText, ParsesLikeAFile) {
  auto config = loadConfigText("log:\n  level: debug\n", "inline");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->log.level, LogLevel::kDebug);
  EXPECT_FALSE(loadConfigText("log: {level: loud}", "inline").ok());
}

TEST_F(ConfigLoaderTest, TrainingPatternsFromFileEnvAndFlag) {
  const auto file = writeFile(R"(
training:
  patterns:
    - name: custom-step
      regex: 'step (?P<current_iteration>\d+) loss (?P<lm_loss>[0-9.]+)'
      prefilter: "step "
    - name: other
      regex: 'it=(?P<current_iteration>\d+)'
    - type: checkpoint_save_end
      name: saved
      regex: 'saved (?P<path>\S+)'
    - {name: quiet, regex: '^DEBUG', type: ignore}
)");
  auto config = load(file, {}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->training.patterns.size(), 4u);
  EXPECT_EQ(config->training.patterns[0].name, "custom-step");
  EXPECT_EQ(config->training.patterns[0].regex,
            R"(step (?P<current_iteration>\d+) loss (?P<lm_loss>[0-9.]+))");
  EXPECT_EQ(config->training.patterns[0].prefilter, "step ");
  EXPECT_EQ(config->training.patterns[0].type, PatternType::kPerformance);
  EXPECT_EQ(config->training.patterns[1].prefilter, "");
  EXPECT_EQ(config->training.patterns[1].type, PatternType::kPerformance);
  EXPECT_EQ(config->training.patterns[2].type, PatternType::kCheckpointSaveEnd);
  EXPECT_EQ(config->training.patterns[3].type, PatternType::kIgnore);

  config = load(file,
                {{"TP_TRAINING_PATTERNS",
                  R"json([{"name": "env", "regex": "x(?P<current_iteration>\\d+)"}])json"}},
                {});
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->training.patterns.size(), 1u);
  EXPECT_EQ(config->training.patterns[0].regex, R"(x(?P<current_iteration>\d+))");

  config = load(file, {}, {{"training.patterns", "[]"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->training.patterns.empty());
}

TEST_F(ConfigLoaderTest, BadTrainingPatternsNameTheProblem) {
  EXPECT_THAT(
      errorOf(load(std::nullopt, {}, {{"training.patterns", R"([{"regex": "x"}])"}})),
      HasSubstr("invalid training.patterns (flag --training.patterns): a pattern has no name"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.patterns", R"([{"name": "a"}])"}})),
              HasSubstr("pattern 'a' has no regex"));
  EXPECT_THAT(
      errorOf(load(std::nullopt, {},
                   {{"training.patterns", R"([{"name": "a", "regex": "x", "colour": "red"}])"}})),
      HasSubstr("unknown pattern field 'colour' (fields: name, regex, prefilter, type)"));
  EXPECT_THAT(errorOf(load(std::nullopt, {},
                           {{"training.patterns",
                             R"([{"name": "a", "regex": "x"}, {"name": "a", "regex": "y"}])"}})),
              HasSubstr("two patterns are named 'a'"));
  EXPECT_THAT(errorOf(load(std::nullopt, {},
                           {{"training.patterns",
                             R"([{"type": "checkpoint", "name": "a", "regex": "x"}])"}})),
              HasSubstr("pattern 'a': type 'checkpoint' is not one of: performance, start, end, "
                        "checkpoint_save_start, checkpoint_save_end, checkpoint_load_start, "
                        "checkpoint_load_end, ignore"));
  EXPECT_THAT(
      errorOf(load(std::nullopt, {},
                   {{"training.patterns", R"([{"name": "a", "regex": "x", "type": ""}])"}})),
      HasSubstr("pattern 'a': type '' is not one of"));
  EXPECT_THAT(
      errorOf(load(std::nullopt, {},
                   {{"training.patterns", R"([{"name": "a", "regex": "x", "type": ["end"]}])"}})),
      HasSubstr("pattern field 'type' must be text"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.patterns", "{name: a}"}})),
              HasSubstr("expected a list of maps"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.patterns", "[{"}})),
              HasSubstr("cannot parse"));
}

TEST_F(ConfigLoaderTest, TrainingSeriesKeys) {
  auto defaults = load(std::nullopt, {}, {});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->training.series.enabled, std::nullopt);
  EXPECT_EQ(defaults->training.series.max_per_workload, 500);
  const auto info = [](std::string_view path) {
    const auto& keys = configKeys();
    const auto key = std::find_if(keys.begin(), keys.end(),
                                  [path](const KeyInfo& key) { return key.path == path; });
    return key == keys.end() ? std::string("missing") : key->default_value;
  };
  EXPECT_EQ(info("training.series.enabled"), "auto");
  EXPECT_EQ(info("training.series.maxPerWorkload"), "500");

  const std::string file =
      writeFile("training:\n  series:\n    enabled: false\n    maxPerWorkload: 50\n");
  auto from_file = load(file, {}, {});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->training.series.enabled, false);
  EXPECT_EQ(from_file->training.series.max_per_workload, 50);
  auto from_env = load(file, {{"TP_TRAINING_SERIES_ENABLED", "true"}}, {});
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->training.series.enabled, true);
  auto back_to_auto =
      load(file, {{"TP_TRAINING_SERIES_ENABLED", "true"}}, {{"training.series.enabled", "auto"}});
  ASSERT_TRUE(back_to_auto.ok()) << back_to_auto.status();
  EXPECT_EQ(back_to_auto->training.series.enabled, std::nullopt);

  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.series.enabled", "sometimes"}})),
              HasSubstr("invalid training.series.enabled (flag --training.series.enabled): "
                        "'sometimes' is not a boolean (true, false or auto)"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.series.maxPerWorkload", "0"}})),
              HasSubstr("invalid training.series.maxPerWorkload (flag "
                        "--training.series.maxPerWorkload): 0 is outside 1..1000000"));
}

TEST_F(ConfigLoaderTest, TrainingHealthKeys) {
  auto defaults = load(std::nullopt, {}, {});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->training.stall.factor, 10);
  EXPECT_EQ(defaults->training.stall.minimum, std::chrono::minutes(5));
  EXPECT_EQ(defaults->training.stall.checkpoint_grace, std::chrono::minutes(30));
  EXPECT_EQ(defaults->training.stall.check_interval, std::chrono::seconds(30));
  EXPECT_EQ(defaults->training.anomaly.loss_spike_factor, 3);
  EXPECT_EQ(defaults->training.anomaly.window, 20);
  EXPECT_EQ(defaults->training.anomaly.throughput_drop, 0.3);
  EXPECT_EQ(defaults->training.anomaly.consecutive, 5);

  const std::string file = writeFile(
      "training:\n  stall:\n    factor: 2.5\n    minimum: 90s\n    checkpointGrace: 1h\n"
      "    checkInterval: 5s\n  anomaly:\n    lossSpikeFactor: 4\n    window: 50\n"
      "    throughputDrop: 0.5\n    consecutive: 3\n");
  auto configured = load(file, {}, {});
  ASSERT_TRUE(configured.ok()) << configured.status();
  EXPECT_EQ(configured->training.stall.factor, 2.5);
  EXPECT_EQ(configured->training.stall.minimum, std::chrono::seconds(90));
  EXPECT_EQ(configured->training.stall.checkpoint_grace, std::chrono::hours(1));
  EXPECT_EQ(configured->training.stall.check_interval, std::chrono::seconds(5));
  EXPECT_EQ(configured->training.anomaly.loss_spike_factor, 4);
  EXPECT_EQ(configured->training.anomaly.window, 50);
  EXPECT_EQ(configured->training.anomaly.throughput_drop, 0.5);
  EXPECT_EQ(configured->training.anomaly.consecutive, 3);

  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.stall.factor", "ten"}})),
              HasSubstr("invalid training.stall.factor (flag --training.stall.factor): 'ten' is "
                        "not a number"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.stall.factor", "0.5"}})),
              HasSubstr("0.5 is outside 1..1000"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.anomaly.throughputDrop", "1"}})),
              HasSubstr("1 is outside 0.01..0.99"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.stall.factor", "nan"}})),
              HasSubstr("'nan' is not a number"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.stall.checkInterval", "1ms"}})),
              HasSubstr("is below the minimum of 10ms"));
}

TEST_F(ConfigLoaderTest, TrainingPatternTableKeys) {
  auto defaults = load(std::nullopt, {}, {});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->training.pattern_reload_interval, std::chrono::seconds(30));
  EXPECT_EQ(defaults->training.pattern_hit_flush_interval, std::chrono::seconds(10));
  EXPECT_EQ(defaults->training.pattern_shadow_sources, std::vector<std::string>{"autodiscovered"});

  const std::string file = writeFile(
      "training:\n  patternReloadInterval: 5s\n  patternHitFlushInterval: 1m\n"
      "  patternShadowSources: [autodiscovered, migration]\n");
  auto configured = load(file, {}, {});
  ASSERT_TRUE(configured.ok()) << configured.status();
  EXPECT_EQ(configured->training.pattern_reload_interval, std::chrono::seconds(5));
  EXPECT_EQ(configured->training.pattern_hit_flush_interval, std::chrono::minutes(1));
  EXPECT_EQ(configured->training.pattern_shadow_sources,
            (std::vector<std::string>{"autodiscovered", "migration"}));
  // Empty: no source is held in shadow.
  auto none = load(std::nullopt, {}, {{"training.patternShadowSources", ""}});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->training.pattern_shadow_sources.empty());

  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.patternShadowSources", "autodiscoverd"}})),
              HasSubstr("'autodiscoverd' is not a source (manual, autodiscovered, migration)"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.patternReloadInterval", "10ms"}})),
              HasSubstr("is below the minimum of 100ms"));
  EXPECT_THAT(errorOf(load(std::nullopt, {}, {{"training.patternHitFlushInterval", "soon"}})),
              HasSubstr("invalid training.patternHitFlushInterval"));
}

TEST(ConfigDiff, NamesTheChangedKeysInDocumentationOrder) {
  const Config before;
  EXPECT_THAT(changedKeys(before, before), ::testing::IsEmpty());
  auto after = loadConfigText(
      "httpPort: 9000\nlog:\n  level: debug\nauth:\n  bearerTokens: [t]\n"
      "training:\n  stall:\n    factor: 20\n  patterns:\n    - name: jax\n"
      "      regex: 'step (?P<current_iteration>\\d+)'\n",
      "reload.yaml");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(changedKeys(before, *after),
              ::testing::ElementsAre("httpPort", "training.patterns", "training.stall.factor",
                                     "auth.bearerTokens", "log.level"));
}

TEST(ConfigDiff, ReloadableKeysAreAuthLogLevelPatternsAndHealthThresholds) {
  for (const char* key : {"auth.bearerTokens", "auth.basicUsers", "auth.exemptPaths", "log.level",
                          "training.patterns", "training.stall.factor",
                          "training.stall.checkInterval", "training.anomaly.window"}) {
    EXPECT_TRUE(isReloadable(key)) << key;
  }
  for (const char* key : {"httpPort", "db.driver", "db.path", "http.threads", "queue.dir",
                          "training.series.enabled", "training.patternReloadInterval"}) {
    EXPECT_FALSE(isReloadable(key)) << key;
  }
  // Every reloadable name is a real key.
  size_t reloadable = 0;
  for (const KeyInfo& key : configKeys()) reloadable += isReloadable(key.path) ? 1 : 0;
  EXPECT_EQ(reloadable, 13u);
}

}  // namespace
}  // namespace tp::config
