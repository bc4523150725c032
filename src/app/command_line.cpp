#include "app/command_line.h"

#include "common/strings.h"

#include <cstdlib>

#include "CLI/CLI.hpp"
#include "common/version.h"
#include "config/config_loader.h"

namespace tp::app {

absl::StatusOr<CommandLine> parseCommandLine(int argc, const char* const* argv) {
  CLI::App cli{
      "Telemetry Processor: joins Prometheus remote-write metrics and Fluent Bit logs "
      "with Kubernetes cluster state.\nEvery key can also be set in the --config file "
      "or by the environment variable shown."};
  cli.set_help_flag("-h,--help", "Print this help and exit");
  cli.set_version_flag("--version", std::string(common::kVersion));
  cli.get_formatter()->column_width(40);

  // Subcommands take the same configuration flags, before or after their name.
  cli.fallthrough();
  CLI::App* seed_demo = cli.add_subcommand(
      "seed-demo",
      "Insert a small example cluster (2 nodes x 8 GPUs, a PyTorchJob with 2 pods) into the "
      "configured database, then exit");

  CLI::App* extract = cli.add_subcommand(
      "extract",
      "Print, as JSON lines, what the training-log extractor finds in raw log lines (FILE, or "
      "standard input), then exit");
  std::string extract_file;
  extract->add_option("FILE", extract_file, "Log file; standard input when absent")
      ->check(CLI::ExistingFile);

  CLI::App* db = cli.add_subcommand("db", "Database maintenance");
  db->require_subcommand(1);
  db->fallthrough();
  CLI::App* dedupe = db->add_subcommand(
      "dedupe",
      "List the duplicate training rows and events (left by older writers) that keep the "
      "unique keys from being created; with --apply, delete them, keeping the oldest of each, "
      "and create the keys");
  bool dedupe_apply = false;
  dedupe->add_flag("--apply", dedupe_apply, "Delete the duplicates and create the keys");

  std::string config_file;
  cli.add_option("--config", config_file, "YAML or JSON configuration file")
      ->option_text("FILE")
      ->check(CLI::ExistingFile);

  const auto& keys = config::configKeys();
  std::vector<std::string> values(keys.size());
  std::vector<CLI::Option*> options;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& key = keys[i];
    options.push_back(
        cli.add_option(common::concat("--", key.path), values[i],
                       common::concat(key.help, " [default: ",
                                      key.default_value.empty() ? "empty" : key.default_value,
                                      "] [env: ", key.env_name, "]"))
            ->option_text("VALUE")
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
            ->group("Configuration keys"));
  }

  CommandLine result;
  cli.require_subcommand(0, 1);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    result.command = Command::kExit;
    result.exit_output = cli.help();
    return result;
  } catch (const CLI::CallForVersion&) {
    result.command = Command::kExit;
    result.exit_output = common::concat("telemetry-processor ", common::kVersion, "\n");
    return result;
  } catch (const CLI::ParseError& error) {
    return absl::InvalidArgumentError(common::concat("command line: ", error.what()));
  }

  config::ConfigSources sources;
  if (!config_file.empty()) sources.file_path = config_file;
  sources.getenv = [](const char* name) { return std::getenv(name); };
  for (size_t i = 0; i < keys.size(); ++i) {
    if (options[i]->count() > 0) sources.flags.emplace_back(keys[i].path, values[i]);
  }

  auto config = config::loadConfig(sources);
  if (!config.ok()) return config.status();
  result.config = std::move(*config);
  result.sources = std::move(sources);
  if (seed_demo->parsed()) result.command = Command::kSeedDemo;
  if (dedupe->parsed()) {
    result.command = Command::kDbDedupe;
    result.dedupe_apply = dedupe_apply;
  }
  if (extract->parsed()) {
    result.command = Command::kExtract;
    result.extract_file = extract_file;
  }
  return result;
}

}  // namespace tp::app
