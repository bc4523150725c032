#include "enrich/active_metrics.h"

#include <algorithm>

#include <functional>

#include "common/strings.h"

namespace tp::enrich {

ActiveMetrics::ActiveMetrics(ActiveMetricsOptions options, const common::Clock& clock)
    : options_(options),
      max_per_shard_(std::max<size_t>(1, (options.max_entries + kShards - 1) / kShards)),
      clock_(clock) {}

void ActiveMetrics::expire(Shard& shard, std::chrono::system_clock::time_point now) const {
  shard.last_cleanup = now;
  absl::erase_if(shard.entries,
                 [&](const auto& entry) { return now - entry.second.last_seen > options_.ttl; });
}

void ActiveMetrics::record(std::string_view name, uint64_t series) {
  const auto now = clock_.wallNow();
  Shard& shard = shards_[std::hash<std::string_view>{}(name) % kShards];
  std::lock_guard lock(shard.mutex);
  if (now - shard.last_cleanup >= options_.cleanup_interval) expire(shard, now);
  auto it = shard.entries.find(common::toAbsl(name));
  if (it == shard.entries.end()) {
    if (shard.entries.size() >= max_per_shard_) expire(shard, now);
    if (shard.entries.size() >= max_per_shard_) {
      shard.untracked += series;
      return;
    }
    it = shard.entries.try_emplace(std::string(name), Entry{.first_seen = now}).first;
  }
  it->second.last_seen = now;
  it->second.seen_count += series;
}

std::vector<ActiveMetric> ActiveMetrics::list() {
  const auto now = clock_.wallNow();
  std::vector<ActiveMetric> metrics;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    expire(shard, now);
    for (const auto& [name, entry] : shard.entries) {
      metrics.push_back({name, entry.first_seen, entry.last_seen, entry.seen_count});
    }
  }
  std::sort(metrics.begin(), metrics.end(),
            [](const ActiveMetric& a, const ActiveMetric& b) { return a.name < b.name; });
  return metrics;
}

uint64_t ActiveMetrics::untracked() const {
  uint64_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.untracked;
  }
  return total;
}

void ActiveMetrics::Batch::spill(Slot& slot) {
  if (slot.count != 0) names_[common::toAbsl(slot.name)] += slot.count;
  slot.count = 0;
}

void ActiveMetrics::Batch::commit() {
  for (Slot& slot : slots_) spill(slot);
  for (const auto& [name, count] : names_) {
    metrics_.record(std::string_view(name.data(), name.size()), count);
  }
  names_.clear();
}

}  // namespace tp::enrich
