// The explain route's body: any bytes must be explained (the answer valid JSON) or refused as
// InvalidArgument naming the problem, never crash, against a small cluster.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "app/debug_api.h"
#include "cache/cluster_snapshot.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto kSnapshot = [] {
    tp::cache::SnapshotBuilder builder;
    builder.addDevice({"node-a", "train-0", "uid-t0", "gpu", "card0", 0});
    builder.addWorkloadPod({"train-0", "uid-t0", "pretrain", "w-pretrain", ""});
    builder.addWorkloadPod({"lonely-0", "uid-l0", "solo", "w-solo", ""});
    return builder.build();
  }();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto answer = tp::app::explainRequest(
      body, {.snapshot = *kSnapshot,
             .origin = {},
             .limits = {.max_output_bytes = 1 << 20, .max_series_label_bytes = 1 << 16},
             .now_ms = 1});
  if (!answer.ok()) {
    if (!absl::IsInvalidArgument(answer.status()) || answer.status().message().empty()) {
      __builtin_trap();
    }
    return 0;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(*answer).get(document) != simdjson::SUCCESS) __builtin_trap();
  return 0;
}
