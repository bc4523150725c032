#include "cache/cache_json.h"

#include <algorithm>
#include <vector>

namespace tp::cache {
namespace {

using common::JsonWriter;
using common::writeString;

template <typename Map>
std::vector<typename Map::const_pointer> sortedEntries(const Map& map) {
  std::vector<typename Map::const_pointer> entries;
  entries.reserve(map.size());
  for (const auto& entry : map) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return entries;
}

}  // namespace

void writeDevicePodCache(JsonWriter& writer, const ClusterSnapshot& snapshot) {
  writer.StartObject();
  for (const auto* node : sortedEntries(snapshot.nodes())) {
    writeString(writer, node->first);
    writer.StartObject();
    for (size_t label = 0; label < kDeviceLabels; ++label) {
      const auto& devices = node->second[label];
      if (devices.empty()) continue;
      writeString(writer, kDeviceLabelNames[label]);
      writer.StartObject();
      for (const auto* device : sortedEntries(devices)) {
        writeString(writer, device->first);
        writer.StartArray();
        writeString(writer, device->second->name);
        writeString(writer, device->second->uid);
        writer.EndArray();
      }
      writer.EndObject();
    }
    writer.EndObject();
  }
  writer.EndObject();
}

void writePodWorkloadCache(JsonWriter& writer, const ClusterSnapshot& snapshot) {
  writer.StartObject();
  for (const auto* pod : sortedEntries(snapshot.workloadsByPodName())) {
    writeString(writer, pod->first);
    writer.StartArray();
    for (const WorkloadRef* workload : pod->second) {
      writer.StartArray();
      writeString(writer, workload->name);
      writeString(writer, workload->uid);
      writer.EndArray();
    }
    writer.EndArray();
  }
  writer.EndObject();
}

}  // namespace tp::cache
