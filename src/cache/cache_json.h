#pragma once
// The two cache documents of the Lens API, rendered straight from a snapshot by a streaming
// JSON writer (no intermediate tree). Keys are sorted, as Go's encoding/json sorts map keys.

#include "cache/cluster_snapshot.h"
#include "common/json_writer.h"

namespace tp::cache {

// {node: {deviceLabel: {deviceKey: [podName, podUid]}}}
void writeDevicePodCache(common::JsonWriter& writer, const ClusterSnapshot& snapshot);

// {podName: [[workloadName, workloadUid], ...]}
void writePodWorkloadCache(common::JsonWriter& writer, const ClusterSnapshot& snapshot);

}  // namespace tp::cache
