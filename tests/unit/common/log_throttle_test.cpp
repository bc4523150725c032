#include "common/log_throttle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <thread>
#include <vector>

#include "spdlog/sinks/ostream_sink.h"
#include "support/simulated_clock.h"

namespace tp::common {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

// Captures what the default logger writes, as "<level> <message>" lines.
class LogThrottleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(output_));
    logger->set_pattern("%l %v");
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }

  std::vector<std::string> lines() const {
    std::vector<std::string> lines;
    std::istringstream text(output_.str());
    for (std::string line; std::getline(text, line);) lines.push_back(line);
    return lines;
  }

  std::ostringstream output_;
  std::shared_ptr<spdlog::logger> previous_;
  testing::SimulatedClock clock_;
};

TEST_F(LogThrottleTest, LogsOncePerIntervalAndSaysHowManyWereHeldBack) {
  LogThrottle throttle(10s, clock_);
  throttle.log(spdlog::level::warn, "queue {} full", "a");
  throttle.log(spdlog::level::warn, "queue {} full", "b");
  clock_.advance(9s);
  throttle.log(spdlog::level::warn, "queue {} full", "c");
  clock_.advance(1s);
  throttle.log(spdlog::level::err, "queue {} full", "d");
  throttle.log(spdlog::level::err, "queue {} full", "e");
  clock_.advance(25s);
  throttle.log(spdlog::level::info, "queue {} full", "f");
  EXPECT_THAT(lines(), ElementsAre("warning queue a full",
                                   "error queue d full (2 more since the last report)",
                                   "info queue f full (1 more since the last report)"));
}

TEST_F(LogThrottleTest, EachInstanceHasItsOwnInterval) {
  LogThrottle disk(10s, clock_);
  LogThrottle network(10s, clock_);
  disk.log(spdlog::level::warn, "disk");
  network.log(spdlog::level::warn, "network");
  disk.log(spdlog::level::warn, "disk");
  EXPECT_THAT(lines(), ElementsAre("warning disk", "warning network"));
}

TEST_F(LogThrottleTest, ThreadsLoggingAtOnceGetOneLine) {
  LogThrottle throttle(10s, clock_);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 100; ++j) throttle.log(spdlog::level::warn, "busy");
    });
  }
  for (auto& thread : threads) thread.join();
  clock_.advance(10s);
  throttle.log(spdlog::level::warn, "busy");
  EXPECT_THAT(lines(),
              ElementsAre("warning busy", "warning busy (399 more since the last report)"));
}

TEST(LogThrottle, AdmitTellsACallerThatLogsSeveralLinesWhenItMay) {
  testing::SimulatedClock clock;
  LogThrottle throttle(1min, clock);
  EXPECT_EQ(throttle.admit(), 0u);
  EXPECT_EQ(throttle.admit(), std::nullopt);
  clock.advance(1min);
  EXPECT_EQ(throttle.admit(), 1u);
}

}  // namespace
}  // namespace tp::common
