#include "support/remote_write_bodies.h"

#include <snappy.h>

#include <utility>
#include <vector>

namespace tp::testing {

::prompb::WriteRequest gpuSeriesRequest(std::string_view metric, int series, int samples_each,
                                        int64_t timestamp_ms) {
  ::prompb::WriteRequest request;
  for (int k = 0; k < series; ++k) {
    auto* entry = request.add_timeseries();
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{{"__name__", std::string(metric)},
                                                          {"gpu_id", "0"},
                                                          {"k", std::to_string(k)},
                                                          {"primus_lens_node_name", "node-a"}}) {
      auto* label = entry->add_labels();
      label->set_name(name);
      label->set_value(value);
    }
    for (int i = 0; i < samples_each; ++i) {
      auto* sample = entry->add_samples();
      sample->set_value(i);
      sample->set_timestamp(timestamp_ms + i);
    }
  }
  return request;
}

std::string compressedBody(const ::prompb::WriteRequest& request) {
  std::string compressed;
  const std::string raw = request.SerializeAsString();
  snappy::Compress(raw.data(), raw.size(), &compressed);
  return compressed;
}

std::string gpuSampleBody(int64_t timestamp_ms) {
  prompb::WriteRequest request;
  auto* series = request.add_timeseries();
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"__name__", "gpu_utilization"}, {"gpu_id", "0"}, {"primus_lens_node_name", "node-a"}}) {
    auto* label = series->add_labels();
    label->set_name(name);
    label->set_value(value);
  }
  auto* sample = series->add_samples();
  sample->set_value(1);
  sample->set_timestamp(timestamp_ms);
  return compressedBody(request);
}

}  // namespace tp::testing
