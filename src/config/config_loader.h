#pragma once
// Builds a Config from defaults, a YAML/JSON file, TP_* environment variables and --key=value
// flags, in that order of increasing precedence. Every error names the key, the offending value
// and where it came from; nothing is partially applied on error.

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace tp::config {

struct ConfigSources {
  std::optional<std::string> file_path;
  // Returns the value of an environment variable, or nullptr.
  std::function<const char*(const char*)> getenv;
  // Key path and value of each --<key>=<value> flag, in command-line order.
  std::vector<std::pair<std::string, std::string>> flags;
};

struct KeyInfo {
  std::string path;           // e.g. "db.driver"
  std::string env_name;       // e.g. "TP_DB_DRIVER"
  std::string default_value;  // as it would be written in a file
  std::string help;
};

// Every configuration key, in documentation order.
const std::vector<KeyInfo>& configKeys();

// "metricsWrite.endpoints" -> "TP_METRICSWRITE_ENDPOINTS".
std::string envNameForKey(std::string_view key_path);

absl::StatusOr<Config> loadConfig(const ConfigSources& sources);

// The keys whose values differ between two configurations, in documentation order.
std::vector<std::string> changedKeys(const Config& before, const Config& after);

// Whether a running process can take a new value of `key_path` without a restart.
bool isReloadable(std::string_view key_path);

// Parses YAML/JSON text as if it were the config file `origin`; the fuzz target's entry point.
absl::StatusOr<Config> loadConfigText(std::string_view text, std::string_view origin);

}  // namespace tp::config
