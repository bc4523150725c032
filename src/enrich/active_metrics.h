#pragma once
// The metric names the remote-write path has received lately, behind /v1/metrics/active: first
// and last seen, and how many series carried each. A request adds each of its distinct names
// once, to one of several independently locked shards; entries unseen for the TTL are removed
// (lazily, at most once per cleanup interval per shard), and the table holds a bounded number of
// names: a name that finds its shard full is counted as not tracked.

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/clock.h"
#include "enrich/series_enricher.h"

namespace tp::enrich {

struct ActiveMetricsOptions {
  std::chrono::minutes ttl{30};
  std::chrono::minutes cleanup_interval{5};
  size_t max_entries = 10000;
};

struct ActiveMetric {
  std::string name;
  std::chrono::system_clock::time_point first_seen;
  std::chrono::system_clock::time_point last_seen;
  uint64_t seen_count = 0;
};

class ActiveMetrics {
 public:
  explicit ActiveMetrics(ActiveMetricsOptions options = {},
                         const common::Clock& clock = common::systemClock());

  // Adds `series` sightings of `name` now.
  void record(std::string_view name, uint64_t series);
  // The names seen within the TTL, by name.
  std::vector<ActiveMetric> list();
  uint64_t untracked() const;  // sightings of names that found their shard full

  const ActiveMetricsOptions& options() const { return options_; }

  // Collects the distinct names of one request (views into it) and adds them on commit().
  class Batch final : public SeriesObserver {
   public:
    explicit Batch(ActiveMetrics& metrics) : metrics_(metrics) {}
    void onResolved(const SeriesResolution& resolution) override;
    void commit();

   private:
    ActiveMetrics& metrics_;
    std::string_view last_name_;
    uint64_t* last_count_ = nullptr;
    absl::flat_hash_map<absl::string_view, uint64_t> names_;
  };

 private:
  static constexpr size_t kShards = 16;
  struct Entry {
    std::chrono::system_clock::time_point first_seen;
    std::chrono::system_clock::time_point last_seen;
    uint64_t seen_count = 0;
  };
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    absl::flat_hash_map<std::string, Entry> entries;
    std::chrono::system_clock::time_point last_cleanup;
    uint64_t untracked = 0;
  };
  // Removes the shard's expired entries; its mutex held.
  void expire(Shard& shard, std::chrono::system_clock::time_point now) const;

  const ActiveMetricsOptions options_;
  const size_t max_per_shard_;
  const common::Clock& clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace tp::enrich
