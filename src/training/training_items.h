#pragma once
// What the logs path hands to the training writer: StartTrain markers and performance rows, each
// for one workload of the pod that logged it.

#include <cstdint>
#include <string>
#include <vector>

namespace tp::training {

// A StartTrain marker seen for one workload of a pod.
struct PendingStart {
  std::string workload_uid;
  std::string nearest_workload_uid;
  std::string pod_uid;
  int64_t time_us = 0;
};

// A performance line for one workload of a pod.
struct PendingPerformance {
  std::string workload_uid;
  std::string nearest_workload_uid;
  std::string pod_uid;
  std::string performance_json;
  int64_t iteration = 0;
  int64_t time_us = 0;
};

struct TrainingItems {
  std::vector<PendingStart> starts;
  std::vector<PendingPerformance> performances;

  size_t size() const { return starts.size() + performances.size(); }
  bool empty() const { return size() == 0; }
  void clear() {
    starts.clear();
    performances.clear();
  }
};

}  // namespace tp::training
