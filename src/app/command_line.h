#pragma once
// The command line: global flags (--config, --version, one --<key> per configuration key) and
// the subcommands. Configuration precedence is flag > environment > file > default.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "config/config_loader.h"

namespace tp::app {

enum class Command { kServe, kSeedDemo, kExtract, kDbDedupe, kExit };

struct CommandLine {
  Command command = Command::kServe;
  config::Config config;
  config::ConfigSources sources;  // what `config` was loaded from; a reload reads them again
  std::string exit_output;        // printed for kExit (--help, --version)
  std::string extract_file;       // kExtract: the log file, empty for standard input
  bool dedupe_apply = false;      // kDbDedupe: delete the duplicates, not only list them
};

absl::StatusOr<CommandLine> parseCommandLine(int argc, const char* const* argv);

}  // namespace tp::app
