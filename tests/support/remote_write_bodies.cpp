#include "support/remote_write_bodies.h"

#include <snappy.h>

#include <utility>
#include <vector>

#include "remote_v1.pb.h"

namespace tp::testing {

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
  std::string compressed;
  const std::string raw = request.SerializeAsString();
  snappy::Compress(raw.data(), raw.size(), &compressed);
  return compressed;
}

}  // namespace tp::testing
