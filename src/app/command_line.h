#pragma once
// The command line: global flags (--config, --version, one --<key> per configuration key) and
// the subcommands. Configuration precedence is flag > environment > file > default.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace tp::app {

enum class Command { kServe, kSeedDemo, kExit };

struct CommandLine {
  Command command = Command::kServe;
  config::Config config;
  std::string exit_output;  // printed for kExit (--help, --version)
};

absl::StatusOr<CommandLine> parseCommandLine(int argc, const char* const* argv);

}  // namespace tp::app
