#pragma once
// Small files the processor keeps across restarts (the saved cluster snapshot, each endpoint's
// lane mapping): replaced whole and durably, so a crash or power loss leaves the old file or the
// new one, never a mix, and read whole.

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tp::common {

// Writes `bytes` to a temporary file beside `path`, fdatasyncs it, renames it over `path` and
// fsyncs the directory (creating the directory first when it is missing).
absl::Status replaceFileDurably(const std::filesystem::path& path, std::string_view bytes);

// The whole file; NotFoundError when there is none.
absl::StatusOr<std::string> readWholeFile(const std::filesystem::path& path);

}  // namespace tp::common
