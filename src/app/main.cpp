#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "app/app.h"
#include "app/command_line.h"
#include "app/db_command.h"
#include "app/extract_command.h"
#include "common/strings.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "storage/demo_data.h"

int main(int argc, char** argv) {
  auto command_line = tp::app::parseCommandLine(argc, argv);
  if (!command_line.ok()) {
    std::cerr << "telemetry-processor: " << command_line.status().message() << "\n";
    return 2;
  }
  if (command_line->command == tp::app::Command::kExit) {
    std::cout << command_line->exit_output;
    return 0;
  }
  const tp::config::Config& config = command_line->config;
  if (command_line->command == tp::app::Command::kExtract) {
    auto extractor = tp::training::PerformanceExtractor::create(config.training.patterns);
    if (!extractor.ok()) {
      std::cerr << "telemetry-processor: " << extractor.status().message() << "\n";
      return 2;
    }
    if (command_line->extract_file.empty()) {
      tp::app::runExtract(**extractor, std::cin, std::cout);
    } else {
      std::ifstream file(command_line->extract_file);
      if (!file) {
        std::cerr << "telemetry-processor: cannot open '" << command_line->extract_file << "'\n";
        return 2;
      }
      tp::app::runExtract(**extractor, file, std::cout);
    }
    return 0;
  }

  auto logger = spdlog::stderr_color_mt("telemetry-processor");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  logger->set_level(tp::app::spdlogLevel(config.log.level));
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::info);

  if (command_line->command == tp::app::Command::kSeedDemo) {
    auto database = tp::storage::Database::create(config.db);
    absl::Status status =
        database.ok() ? tp::storage::seedDemoCluster(**database, std::chrono::system_clock::now())
                      : database.status();
    if (!status.ok()) {
      spdlog::critical("seed-demo failed: {}", tp::common::message(status));
      return 1;
    }
    spdlog::info("demo cluster present in {}", (*database)->description());
    return 0;
  }

  if (command_line->command == tp::app::Command::kDbDedupe) {
    auto database = tp::storage::Database::create(config.db);
    absl::Status status =
        database.ok() ? tp::app::runDedupe(**database, command_line->dedupe_apply, std::cout)
                      : database.status();
    if (!status.ok()) {
      spdlog::critical("db dedupe failed: {}", tp::common::message(status));
      return 1;
    }
    return 0;
  }

  tp::app::blockStopSignals();
  auto app = tp::app::App::create(config, command_line->sources);
  if (!app.ok()) {
    spdlog::critical("cannot start: {}", tp::common::message(app.status()));
    return 1;
  }
  (*app)->start();
  int signal = 0;
  while ((signal = tp::app::waitForSignal()) == SIGHUP) {
    spdlog::info("received SIGHUP: reloading the configuration");
    // reload() logs the outcome.
    (*app)->reload().IgnoreError();
  }
  spdlog::info("received signal {}", signal);
  (*app)->stop();
  return 0;
}
