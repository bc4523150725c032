#pragma once
// Decoding of Prometheus remote-write bodies, 1.0 (prometheus.WriteRequest) and 2.0
// (io.prometheus.write.v2.Request with its symbol table), into views of the decompressed bytes.
// One series at a time is handed to a sink; the series object is reused, so decoding a request
// allocates nothing once the buffers have grown. Errors name the series and the problem:
// "cannot decode timeseries 3: label name empty".

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace tp::ingest {

enum class RemoteWriteVersion { kV1, kV2 };

struct LabelView {
  std::string_view name;
  std::string_view value;
};

struct Sample {
  double value;
  int64_t timestamp;
};

struct Exemplar {
  uint32_t labels_begin;  // range in DecodedSeries::exemplar_labels
  uint32_t labels_end;
  double value;
  int64_t timestamp;
};

// Prometheus metric metadata, v1 top-level entries and v2 per-series metadata alike.
struct MetadataView {
  uint32_t type = 0;  // the same enum values in 1.0 and 2.0
  std::string_view family_name;
  std::string_view help;
  std::string_view unit;
};

// Limits on what one series may carry; beyond them the request is refused (400), as storage
// would refuse or truncate such series anyway.
inline constexpr size_t kMaxLabelsPerSeries = 256;
inline constexpr size_t kMaxLabelNameBytes = 1024;
inline constexpr size_t kMaxLabelValueBytes = size_t{64} * 1024;

struct DecodedSeries {
  std::vector<LabelView> labels;
  std::vector<Sample> samples;
  // Native histograms as raw message bytes: 1.0 and 2.0 share field numbers 1-15, so they are
  // forwarded as they came.
  std::vector<std::string_view> histograms;
  std::vector<Exemplar> exemplars;
  std::vector<LabelView> exemplar_labels;
  MetadataView metadata;  // 2.0 only; type 0 and empty strings when absent
  bool has_metadata = false;

  void clear() {
    labels.clear();
    samples.clear();
    histograms.clear();
    exemplars.clear();
    exemplar_labels.clear();
    metadata = {};
    has_metadata = false;
  }
};

// A sink's error stops decoding and becomes the request's answer (e.g. ResourceExhausted when
// what it would produce is over a limit).
class SeriesSink {
 public:
  virtual ~SeriesSink() = default;
  virtual absl::Status onSeries(const DecodedSeries& series) = 0;
  virtual absl::Status onMetadata(const MetadataView& metadata) = 0;  // 1.0 top-level metadata
};

struct DecodeCounts {
  size_t series = 0;
  size_t samples = 0;
  size_t histograms = 0;
  size_t exemplars = 0;
};

// Decodes `body` (already decompressed). On error, the sink may have seen some series: callers
// discard what the sink produced.
absl::Status decodeWriteRequest(std::string_view body, RemoteWriteVersion version, SeriesSink& sink,
                                DecodeCounts* counts);

}  // namespace tp::ingest
