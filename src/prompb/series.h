#pragma once
// Writing remote-write 1.0 TimeSeries messages: the sizes of labels and samples, and whole
// series of a few labels, for the producers that build series from their own data (the training
// series and the training-health series).

#include <cstdint>
#include <span>
#include <string_view>

#include "prompb/fields.h"
#include "prompb/wire.h"

namespace tp::prompb {

struct LabelPair {
  std::string_view name;
  std::string_view value;
};

struct SamplePoint {
  int64_t timestamp_ms = 0;
  double value = 0;
};

inline size_t labelMessageSize(std::string_view name, std::string_view value) {
  return WireWriter::bytesFieldSize(v1::label::kName, name.size()) +
         WireWriter::bytesFieldSize(v1::label::kValue, value.size());
}

// A Label as a TimeSeries field: key, length and message.
inline size_t labelFieldSize(std::string_view name, std::string_view value) {
  return WireWriter::bytesFieldSize(v1::time_series::kLabels, labelMessageSize(name, value));
}

inline void writeLabel(WireWriter& writer, std::string_view name, std::string_view value) {
  writer.lengthPrefix(v1::time_series::kLabels, labelMessageSize(name, value));
  writer.bytesField(v1::label::kName, name);
  writer.bytesField(v1::label::kValue, value);
}

// A Sample: a double (key and 8 bytes) and a varint timestamp (key and its bytes).
inline size_t sampleMessageSize(int64_t timestamp_ms) {
  return 1 + 8 + 1 + WireWriter::varintSize(static_cast<uint64_t>(timestamp_ms));
}

inline void writeSample(WireWriter& writer, const SamplePoint& sample) {
  writer.lengthPrefix(v1::time_series::kSamples, sampleMessageSize(sample.timestamp_ms));
  writer.doubleField(v1::sample::kValue, sample.value);
  writer.varintField(v1::sample::kTimestamp, static_cast<uint64_t>(sample.timestamp_ms));
}

// Appends one WriteRequest timeseries field: `labels` (sorted by name, __name__ first, as the
// caller gives them) and `samples` (in time order).
inline void appendTimeseries(OutputBuffer& out, std::span<const LabelPair> labels,
                             std::span<const SamplePoint> samples) {
  size_t size = 0;
  for (const LabelPair& label : labels) size += labelFieldSize(label.name, label.value);
  for (const SamplePoint& sample : samples) {
    size += WireWriter::bytesFieldSize(v1::time_series::kSamples,
                                       sampleMessageSize(sample.timestamp_ms));
  }
  WireWriter writer(out, WireWriter::bytesFieldSize(v1::write_request::kTimeseries, size));
  writer.lengthPrefix(v1::write_request::kTimeseries, size);
  for (const LabelPair& label : labels) writeLabel(writer, label.name, label.value);
  for (const SamplePoint& sample : samples) writeSample(writer, sample);
}

}  // namespace tp::prompb
