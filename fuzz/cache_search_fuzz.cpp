// The console's cache search: any query string is a page of valid JSON or InvalidArgument naming
// the parameter, never a crash, against a small cluster.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "cache/cluster_snapshot.h"
#include "common/json_writer.h"
#include "console/cache_search.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto kIndex = [] {
    tp::cache::SnapshotBuilder builder;
    builder.addDevice({"node-a", "train-0", "uid-t0", "gpu", "card0", 0});
    builder.addDevice({"node-a", "train-0", "uid-t0", "ib", "mlx5_0", 0});
    builder.addDevice({"node-b", "train-1", "uid-t1", "gpu", "card0", 10});
    builder.addWorkloadPod({"train-0", "uid-t0", "pretrain", "w-pretrain", ""});
    builder.addWorkloadPod({"lonely-0", "uid-l0", "solo", "w-solo", ""});
    return std::make_shared<const tp::console::SnapshotIndex>(builder.build());
  }();
  const std::string target =
      "/ui/api/cache/search?" + std::string(reinterpret_cast<const char*>(data), size);
  const auto query = tp::console::parseCacheQuery(target);
  if (!query.ok()) {
    if (!absl::IsInvalidArgument(query.status()) || query.status().message().empty()) {
      __builtin_trap();
    }
    return 0;
  }
  rapidjson::StringBuffer buffer;
  tp::common::JsonWriter writer(buffer);
  writer.StartObject();
  kIndex->write(writer, *query);
  writer.EndObject();
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(buffer.GetString(), buffer.GetSize()).get(document) != simdjson::SUCCESS) {
    __builtin_trap();
  }
  return 0;
}
