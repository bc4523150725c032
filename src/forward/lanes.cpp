#include "forward/lanes.h"

#include <cstring>

#include "ingest/remote_write/protobuf_wire.h"

namespace tp::forward {
namespace {

using ingest::WireReader;
using ingest::WireType;

constexpr uint32_t kTimeseriesField = 1;  // WriteRequest.timeseries
constexpr uint32_t kLabelField = 1;       // TimeSeries.labels
constexpr uint32_t kSampleField = 2;      // TimeSeries.samples

// A stable 64-bit hash (the same in every process, unlike absl::Hash), eight bytes per step: the
// lane of every series is computed on the request thread.
uint64_t stableHash(std::string_view bytes) {
  constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ull;
  uint64_t hash = bytes.size() * kMultiplier;
  size_t at = 0;
  for (; at + 8 <= bytes.size(); at += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + at, 8);
    hash = (hash ^ word) * kMultiplier;
    hash ^= hash >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + at, bytes.size() - at);
  hash = (hash ^ tail) * kMultiplier;
  return hash ^ (hash >> 32);
}

// The lane of one encoded TimeSeries and its sample count; false when it is malformed. The lane
// comes from the labels' bytes, which the enricher writes first, sorted and all together.
bool laneOfSeries(std::string_view series, size_t lanes, size_t* lane, size_t* samples) {
  WireReader reader(series);
  const char* labels_end = series.data();
  bool in_labels = true;
  uint32_t field = 0;
  WireType type{};
  *samples = 0;
  while (reader.nextField(&field, &type)) {
    const bool label = type == WireType::kLengthDelimited && field == kLabelField;
    if (type == WireType::kLengthDelimited && field == kSampleField) ++*samples;
    std::string_view value;
    if (type == WireType::kLengthDelimited ? !reader.readBytes(&value) : !reader.skip(type)) {
      return false;
    }
    if (label && in_labels) {
      labels_end = value.data() + value.size();
    } else {
      in_labels = false;
    }
  }
  *lane = stableHash(std::string_view(series.data(), labels_end - series.data())) % lanes;
  return reader.ok();
}

}  // namespace

absl::Status splitIntoLanes(std::string_view fields, size_t lanes, LaneParts& parts) {
  parts.fields.resize(lanes);
  for (std::string& part : parts.fields) part.clear();
  parts.samples.assign(lanes, 0);
  WireReader reader(fields);
  const char* field_begin = fields.data();
  uint32_t field = 0;
  WireType type{};
  while (reader.nextField(&field, &type)) {
    std::string_view value;
    if (type != WireType::kLengthDelimited || !reader.readBytes(&value)) break;
    size_t lane = 0;
    size_t samples = 0;
    if (field == kTimeseriesField && !laneOfSeries(value, lanes, &lane, &samples)) {
      return absl::InvalidArgumentError("forwarding: malformed series in an encoded batch");
    }
    const char* field_end = value.data() + value.size();
    parts.fields[lane].append(field_begin, field_end);
    parts.samples[lane] += samples;
    field_begin = field_end;
  }
  if (field_begin != fields.data() + fields.size()) {
    return absl::InvalidArgumentError("forwarding: malformed encoded batch");
  }
  return absl::OkStatus();
}

}  // namespace tp::forward
