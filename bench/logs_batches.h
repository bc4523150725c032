#pragma once
// Fluent Bit batches like a training job's output, shared by the logs benchmarks: 1 000 records
// of about 900 bytes (message + the kubernetes filter's metadata) in a `format json` array, as
// the http output posts them; 20 % Primus HIP performance lines, 80 % other log lines of similar
// length, spread over kPods pods that each belong to two workloads.

#include <memory>
#include <string>
#include <vector>

#include "cache/cluster_snapshot.h"

namespace tp::bench {

inline constexpr int kPods = 64;
inline constexpr size_t kRecordsPerBatch = 1000;
// Every pod is in the job kJobUid and in its current run kRunUid, a child of the job.
inline constexpr const char* kJobUid = "w-job";
inline constexpr const char* kRunUid = "w-run1";

std::string podName(int pod);
std::string podUid(int pod);
std::string nodeName(int pod);

// The messages of one batch; its performance lines count iterations from `first_iteration`.
std::vector<std::string> mixedLines(int first_iteration = 400);
// One batch of those lines; record i is from pod i % kPods.
std::string fluentBitBatch(int first_iteration = 400);

// The pods and workloads of the batches.
std::shared_ptr<const cache::ClusterSnapshot> batchCluster();

}  // namespace tp::bench
