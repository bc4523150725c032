#pragma once
// A real VictoriaMetrics single-node server on loopback for integration tests. It keeps its port
// and data directory across stop() and start(), so a restart is a restart.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "support/process.h"

namespace tp::testing {

// GET on loopback; the body for 200, empty for anything else (also when nothing listens).
std::string httpGet(uint16_t port, const std::string& target);
// `text` percent-encoded for a query string.
std::string urlEncode(std::string_view text);

class VictoriaMetrics {
 public:
  // Starts it with its data under `data_dir`.
  explicit VictoriaMetrics(std::filesystem::path data_dir);
  ~VictoriaMetrics();

  void start();  // a test failure when it does not become healthy within 30 s
  void stop();  // SIGTERM: an orderly stop (a test failure otherwise), what it acknowledged is kept
  bool running() const { return process_ != nullptr; }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The raw samples of the series matching `selector` (/api/v1/export: one JSON line per series),
  // after making everything received searchable.
  std::string exportSeries(const std::string& selector);

  // The /api/v1/query_range answer to `query` (times in seconds), after making everything
  // received searchable.
  std::string queryRange(const std::string& query, int64_t start_s, int64_t end_s, int64_t step_s);

  // What it logged (errors only), over every start so far.
  std::string output();

 private:
  std::filesystem::path data_dir_;
  uint16_t port_;
  std::unique_ptr<ChildProcess> process_;
  std::string earlier_output_;
};

}  // namespace tp::testing
