#pragma once
// What the logs path hands to the training writer: StartTrain markers, performance rows and
// lifecycle events (checkpoints, end of training), each for one workload of the pod that logged
// it, with the labels its training series carry.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tp::training {

// The labels of a training series besides its name, `run` and `job` (training_series.h).
struct SeriesLabels {
  std::string workload_name;
  std::string pod_name;
  std::string namespace_name;
  std::string node;
  std::string rank;  // empty when the logger's prefix carries none

  bool operator==(const SeriesLabels&) const = default;
};

// A StartTrain marker seen for one workload of a pod.
struct PendingStart {
  std::string workload_uid;
  std::string nearest_workload_uid;
  std::string pod_uid;
  int64_t time_us = 0;

  bool operator==(const PendingStart&) const = default;
};

// A performance line for one workload of a pod.
struct PendingPerformance {
  std::string workload_uid;
  std::string nearest_workload_uid;
  std::string pod_uid;
  std::string performance_json;
  int64_t iteration = 0;
  int64_t time_us = 0;
  SeriesLabels labels;

  bool operator==(const PendingPerformance&) const = default;
};

enum class LifecycleKind : uint8_t {
  kEnd = 1,  // end of training
  kCheckpointSaveStart,
  kCheckpointSaveEnd,
  kCheckpointLoadStart,
  kCheckpointLoadEnd,
};
inline constexpr size_t kLifecycleKindCount = 5;
// As log_analysis_consume_count{type} names them, in the order of LifecycleKind.
inline constexpr std::array<std::string_view, kLifecycleKindCount> kLifecycleTypeNames = {
    "EndTrain", "CheckpointSaveStart", "CheckpointSaveEnd", "CheckpointLoadStart",
    "CheckpointLoadEnd"};
inline size_t lifecycleIndex(LifecycleKind kind) { return static_cast<size_t>(kind) - 1; }

// A lifecycle line for one workload of a pod.
struct PendingLifecycle {
  std::string workload_uid;
  std::string nearest_workload_uid;
  std::string pod_uid;
  LifecycleKind kind = LifecycleKind::kEnd;
  std::optional<int64_t> iteration;
  std::string path;                    // checkpoint directory, as printed
  std::optional<int64_t> duration_ms;  // as printed
  int64_t time_us = 0;
  SeriesLabels labels;

  bool operator==(const PendingLifecycle&) const = default;
};

struct TrainingItems {
  std::vector<PendingStart> starts;
  std::vector<PendingPerformance> performances;
  std::vector<PendingLifecycle> lifecycles;

  size_t size() const { return starts.size() + performances.size() + lifecycles.size(); }
  bool empty() const { return size() == 0; }
  void clear() {
    starts.clear();
    performances.clear();
    lifecycles.clear();
  }
};

// A printed duration beyond a month (or negative) is a misread line, not a checkpoint: unknown.
inline std::optional<int64_t> plausibleDuration(std::optional<int64_t> duration_ms) {
  constexpr int64_t kLongestMs = int64_t{31} * 24 * 3600 * 1000;
  if (!duration_ms || *duration_ms < 0 || *duration_ms > kLongestMs) return std::nullopt;
  return duration_ms;
}

}  // namespace tp::training
