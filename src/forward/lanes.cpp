#include "forward/lanes.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "absl/numeric/int128.h"
#include "common/durable_file.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace tp::forward {

std::vector<uint64_t> laneCaps(const std::vector<uint64_t>& held, size_t appending, uint64_t total,
                               bool drop_oldest) {
  std::vector<uint64_t> caps = held;  // lanes that only drain take nothing more
  appending = std::min(appending, held.size());
  if (appending == 0) return caps;
  uint64_t budget = total;
  for (size_t i = appending; i < held.size(); ++i) budget -= std::min(budget, held[i]);
  const uint64_t floor = drop_oldest ? budget / appending / 8 : 0;
  uint64_t claimed = 0;
  uint64_t above = 0;  // held beyond the floor
  for (size_t i = 0; i < appending; ++i) {
    claimed += std::max(held[i], floor);
    above += held[i] - std::min(held[i], floor);
  }
  if (claimed <= budget) {
    const uint64_t share = (budget - claimed) / appending;
    for (size_t i = 0; i < appending; ++i) caps[i] = std::max(held[i], floor) + share;
    return caps;
  }
  // The lanes above the floor give up the excess in proportion to what they hold above it,
  // rounded up to stay within the budget. `over` is at most `above`: appending * floor <= budget.
  const uint64_t over = claimed - budget;
  for (size_t i = 0; i < appending; ++i) {
    if (held[i] <= floor) {
      caps[i] = floor;
      continue;
    }
    const uint64_t excess = held[i] - floor;
    const uint64_t cut = absl::Uint128Low64((absl::uint128(over) * excess + above - 1) / above);
    caps[i] = held[i] - std::min(cut, excess);
  }
  return caps;
}

std::string formatLaneMapping(const LaneMapping& mapping) {
  std::string text = common::concat("lanes ", mapping.lanes, "\n");
  for (const auto& ends : mapping.epoch_ends) {
    text += "epoch";
    for (uint64_t end : ends) text += common::concat(" ", end);
    text += "\n";
  }
  return text;
}

std::optional<LaneMapping> parseLaneMapping(std::string_view text) {
  LaneMapping mapping;
  std::istringstream lines{std::string(text)};
  std::string line;
  bool counted = false;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string word;
    if (!(words >> word)) continue;
    if (word == "lanes" && !counted) {
      if (!(words >> mapping.lanes) || mapping.lanes < 1 || (words >> word)) return std::nullopt;
      counted = true;
    } else if (word == "epoch") {
      std::vector<uint64_t>& ends = mapping.epoch_ends.emplace_back();
      while (words >> word) {
        uint64_t end = 0;
        const auto [at, error] = std::from_chars(word.data(), word.data() + word.size(), end);
        if (error != std::errc() || at != word.data() + word.size()) return std::nullopt;
        ends.push_back(end);
      }
    } else {
      return std::nullopt;
    }
  }
  if (!counted) return std::nullopt;
  return mapping;
}

std::optional<LaneMapping> readLaneMapping(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = common::readWholeFile(path);
  if (!text.ok()) return std::nullopt;
  std::optional<LaneMapping> mapping = parseLaneMapping(*text);
  if (!mapping)
    spdlog::warn("{}: not a lane mapping; its queued batches count as cut for others",
                 path.string());
  return mapping;
}

absl::Status writeLaneMapping(const std::filesystem::path& path, const LaneMapping& mapping) {
  return common::replaceFileDurably(path, formatLaneMapping(mapping));
}

}  // namespace tp::forward
