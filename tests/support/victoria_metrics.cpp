#include "support/victoria_metrics.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cctype>
#include <cstdio>
#include <thread>

#include "support/database_servers.h"
#include "support/http_client.h"

namespace tp::testing {

using namespace std::chrono_literals;

std::string httpGet(uint16_t port, const std::string& target) {
  try {
    HttpClient client(port);
    const auto result = client.get(target);
    return result.status == 200 ? result.body : "";
  } catch (const std::exception&) {
    return "";
  }
}

std::string urlEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof(escaped), "%%%02X", c);
      out += escaped;
    }
  }
  return out;
}

namespace {}  // namespace

VictoriaMetrics::VictoriaMetrics(std::filesystem::path data_dir)
    : data_dir_(std::move(data_dir)), port_(freeLoopbackPort()) {
  start();
}

VictoriaMetrics::~VictoriaMetrics() {
  if (running()) stop();
}

void VictoriaMetrics::start() {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/victoria-metrics"))
      << "/usr/bin/victoria-metrics not found: install the Debian package victoria-metrics";
  process_ = std::make_unique<ChildProcess>(
      "/usr/bin/victoria-metrics",
      std::vector<std::string>{"-storageDataPath=" + data_dir_.string(),
                               "-httpListenAddr=127.0.0.1:" + std::to_string(port_),
                               "-retentionPeriod=100y", "-search.latencyOffset=0s",
                               "-loggerLevel=ERROR"});
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (httpGet(port_, "/health").empty()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << process_->output();
    std::this_thread::sleep_for(100ms);
  }
}

void VictoriaMetrics::stop() {
  process_->signal(SIGTERM);
  // An unclean exit may lose what it acknowledged last, which a test would blame on the processor.
  EXPECT_EQ(process_->waitForExit(30s), 0)
      << "VictoriaMetrics did not stop cleanly: " << process_->output();
  earlier_output_ += process_->output();
  process_.reset();
}

std::string VictoriaMetrics::output() {
  return earlier_output_ + (process_ ? process_->output() : "");
}

std::string VictoriaMetrics::queryRange(const std::string& query, int64_t start_s, int64_t end_s,
                                        int64_t step_s) {
  httpGet(port_, "/internal/force_flush");
  return httpGet(port_, "/api/v1/query_range?query=" + urlEncode(query) +
                            "&start=" + std::to_string(start_s) + "&end=" + std::to_string(end_s) +
                            "&step=" + std::to_string(step_s));
}

std::string VictoriaMetrics::exportSeries(const std::string& selector) {
  httpGet(port_, "/internal/force_flush");
  return httpGet(port_, "/api/v1/export?match[]=" + urlEncode(selector));
}

}  // namespace tp::testing
