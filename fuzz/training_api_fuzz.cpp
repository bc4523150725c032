// The training APIs' request targets: any path and query string must be answered 200, 400
// (naming the parameter), 404 or 405, never crash, against a real SQLite database with a run.

#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "app/training_api.h"
#include "http/router.h"
#include "soci/soci.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "storage/training_rows.h"
#include "telemetry/telemetry.h"

namespace {

namespace beast_http = boost::beast::http;

struct Api {
  Api() {
    tp::config::DbConfig db;
    db.path = (std::filesystem::temp_directory_path() /
               ("tp-training-api-fuzz-" + std::to_string(getpid()) + ".db"))
                  .string();
    std::filesystem::remove(db.path);
    database = std::move(*tp::storage::Database::create(db));
    if (!tp::storage::ensureSchema(*database, nullptr).ok()) __builtin_trap();
    const tp::storage::RunEvent start{"w-job", "w-run", "pod-0", 1, 1761223152000000};
    const tp::storage::PerformanceRow row{
        "w-job", "pod-0", R"({"current_iteration":1,"lm_loss":2.5,"tflops":"NaN"})",
        1,       1,       1761223153000000};
    if (!tp::storage::insertStartTrainEvents(*database, {&start, 1}).ok() ||
        !tp::storage::insertPerformanceRows(*database, {&row, 1}).ok()) {
      __builtin_trap();
    }
    tp::app::addTrainingRoutes(router, *database);
  }

  tp::telemetry::Telemetry telemetry{"fuzz"};
  tp::http::Router router{telemetry};
  std::unique_ptr<tp::storage::Database> database;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Api api;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The routes live under /v1 and /api/v1; the input is the rest of the target.
  const std::string target = std::string(size % 2 == 0 ? "/v1/" : "/api/v1/") + std::string(input);
  tp::http::Request request{beast_http::verb::get, target, 11};
  const tp::http::Router::Match match = api.router.match(beast_http::verb::get, target);
  if (match.outcome != tp::http::Router::Outcome::kFound) return 0;
  const tp::http::RequestContext context{request, match.path, "127.0.0.1", match.parameters};
  const tp::http::Response response = match.route->handler(context);
  const unsigned status = response.result_int();
  if (status != 200 && status != 400 && status != 404) __builtin_trap();
  return 0;
}
