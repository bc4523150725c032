#include "forward/lanes.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <sstream>

#include "absl/numeric/int128.h"
#include "common/durable_file.h"
#include "common/strings.h"
#include "prompb/fields.h"
#include "prompb/wire.h"
#include "spdlog/spdlog.h"

namespace tp::forward {
namespace {

namespace v1 = prompb::v1;
using prompb::WireReader;
using prompb::WireType;

// A stable 64-bit hash (the same in every process, unlike absl::Hash), eight bytes per step: the
// lane of every series is computed on the request thread.
uint64_t stableHash(std::string_view bytes) {
  constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ull;
  uint64_t hash = bytes.size() * kMultiplier;
  size_t at = 0;
  for (; at + 8 <= bytes.size(); at += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + at, 8);
    hash = (hash ^ word) * kMultiplier;
    hash ^= hash >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + at, bytes.size() - at);
  hash = (hash ^ tail) * kMultiplier;
  return hash ^ (hash >> 32);
}

// The lane of one encoded TimeSeries and its sample count; false when it is malformed. The lane
// comes from the labels' bytes, which the enricher writes first, sorted and all together.
bool laneOfSeries(std::string_view series, size_t lanes, size_t* lane, size_t* samples) {
  WireReader reader(series);
  const char* labels_end = series.data();
  bool in_labels = true;
  uint32_t field = 0;
  WireType type{};
  *samples = 0;
  while (reader.nextField(&field, &type)) {
    const bool label = type == WireType::kLengthDelimited && field == v1::time_series::kLabels;
    if (type == WireType::kLengthDelimited && field == v1::time_series::kSamples) ++*samples;
    std::string_view value;
    if (type == WireType::kLengthDelimited ? !reader.readBytes(&value) : !reader.skip(type)) {
      return false;
    }
    if (label && in_labels) {
      labels_end = value.data() + value.size();
    } else {
      in_labels = false;
    }
  }
  *lane = stableHash(std::string_view(series.data(), labels_end - series.data())) % lanes;
  return reader.ok();
}

}  // namespace

absl::Status splitIntoLanes(std::string_view fields, size_t lanes, LaneParts& parts) {
  parts.fields.resize(lanes);
  for (std::string& part : parts.fields) part.clear();
  parts.samples.assign(lanes, 0);
  WireReader reader(fields);
  const char* field_begin = fields.data();
  uint32_t field = 0;
  WireType type{};
  while (reader.nextField(&field, &type)) {
    std::string_view value;
    if (type != WireType::kLengthDelimited || !reader.readBytes(&value)) break;
    size_t lane = 0;
    size_t samples = 0;
    if (field == v1::write_request::kTimeseries && !laneOfSeries(value, lanes, &lane, &samples)) {
      return absl::InvalidArgumentError("forwarding: malformed series in an encoded batch");
    }
    const char* field_end = value.data() + value.size();
    parts.fields[lane].append(field_begin, field_end);
    parts.samples[lane] += samples;
    field_begin = field_end;
  }
  if (field_begin != fields.data() + fields.size()) {
    return absl::InvalidArgumentError("forwarding: malformed encoded batch");
  }
  return absl::OkStatus();
}

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
