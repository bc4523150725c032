// The dry run's request body: any bytes must be answered 200 or 400 (naming the problem), never
// crash, with configured, database (one shadow) and built-in patterns in use; a 200 is JSON.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "app/pattern_debug_api.h"
#include "http/router.h"
#include "rapidjson/document.h"
#include "soci/soci.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "telemetry/telemetry.h"

namespace {

namespace beast_http = boost::beast::http;

struct Api {
  Api() {
    tp::config::DbConfig db;
    db.path = (std::filesystem::temp_directory_path() /
               ("tp-log-match-fuzz-" + std::to_string(getpid()) + ".db"))
                  .string();
    std::filesystem::remove(db.path);
    database = std::move(*tp::storage::Database::create(db));
    if (!tp::storage::ensureSchema(*database, nullptr).ok()) __builtin_trap();
    const auto inserted = database->run([](soci::session& sql) {
      sql << "INSERT INTO training_log_pattern (pattern, name, enabled) VALUES ('step "
             "(?P<CurrentIteration>\\d+) loss=(?P<LmLoss>\\S+)', 'steps', TRUE)";
      sql << "INSERT INTO training_log_pattern (pattern, pattern_type, source, enabled) VALUES "
             "('iteration', 'blacklist', 'autodiscovered', TRUE)";
    });
    if (!inserted.ok()) __builtin_trap();
    auto configured = tp::training::PerformanceExtractor::create(
        {{"configured", R"(cfg (?P<current_iteration>\d+) (?P<extra>\S+))", "cfg"}});
    if (!configured.ok()) __builtin_trap();
    registry = std::make_unique<tp::training::PatternRegistry>(
        *database,
        std::shared_ptr<const tp::training::PerformanceExtractor>(*std::move(configured)),
        tp::training::PatternRegistryOptions{}, telemetry.trainingPatternMetrics());
    if (!registry->reload() || registry->current()->storedCount() != 2) __builtin_trap();
    tp::app::addPatternDebugRoutes(router, *registry);
  }

  tp::telemetry::Telemetry telemetry{"fuzz"};
  tp::http::Router router{telemetry};
  std::unique_ptr<tp::storage::Database> database;
  std::unique_ptr<tp::training::PatternRegistry> registry;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Api api;
  const std::string target = "/v1/debug/test-log-match";
  tp::http::Request request{beast_http::verb::post, target, 11};
  request.body().assign(reinterpret_cast<const char*>(data), size);
  const tp::http::Router::Match match = api.router.match(beast_http::verb::post, target);
  if (match.outcome != tp::http::Router::Outcome::kFound) __builtin_trap();
  const tp::http::RequestContext context{request, match.path, "127.0.0.1", match.parameters};
  const tp::http::Response response = match.route->handler(context);
  const unsigned status = response.result_int();
  if (status != 200 && status != 400) __builtin_trap();
  rapidjson::Document document;
  document.Parse(response.body().data(), response.body().size());
  if (document.HasParseError()) __builtin_trap();
  return 0;
}
