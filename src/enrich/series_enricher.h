#pragma once
// Turns pod- and device-level series into workload-level series (SPEC §3) and encodes them as
// remote-write 1.0 TimeSeries into a caller's buffers, one per lane (metricsWrite.concurrency):
//   pod: node + device label (gpu_id, device, asic, in that order), else pod + uid, else pod;
//   workloads: of the pod's UID when known, else of its name; one output series per workload;
//   rewrite: __name__ -> workload_<name>, job -> primus-lens-telemetry-processor, plus pod_name,
//   pod_uid, workload_name, workload_uid (replacing same-named labels), labels sorted;
//   samples < 0 dropped; histograms and exemplars carried unchanged.
// Consumes decoded series; emits encoded series; drops (and counts by reason) series without a
// pod, without a workload, without a name, and negative samples. Reads an immutable snapshot:
// no locks, and no allocation per series once its reusable buffers have grown.
// What it writes is bounded before it is allocated (EnrichLimits): a 2.0 symbol can be the value
// of every label of every series, and a pod can belong to many workloads, so a small body can
// ask for gigabytes of output.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "cache/cluster_snapshot.h"
#include "config/config.h"
#include "ingest/remote_write/write_request.h"
#include "prompb/wire.h"

namespace tp::enrich {

enum class DropReason : size_t { kNoPod = 0, kNoWorkload, kNegativeValue, kNoMetricName, kCount };
inline constexpr std::array<const char*, static_cast<size_t>(DropReason::kCount)> kDropReasonNames =
    {"no_pod", "no_workload", "negative_value", "no_metric_name"};

struct EnrichCounts {
  size_t series_out = 0;
  size_t samples_out = 0;
  size_t histograms_out = 0;
  size_t exemplars_out = 0;
  std::array<size_t, static_cast<size_t>(DropReason::kCount)> dropped_series{};
  std::array<size_t, static_cast<size_t>(DropReason::kCount)> dropped_samples{};
};

// The rule that found a series' pod, in the order they are tried.
enum class PodRule : uint8_t { kNone = 0, kDevice, kPodAndUid, kPod };
inline constexpr std::array<const char*, 4> kPodRuleNames = {"none", "device", "pod_uid", "pod"};

// What the enricher decided for one input series, as it decided it. Views point into the series
// and the snapshot: valid during SeriesObserver::onResolved only.
struct SeriesResolution {
  const ingest::DecodedSeries& series;
  std::string_view metric_name;  // the input's __name__; empty when missing
  std::string_view node;         // the input's primus_lens_node_name
  PodRule rule = PodRule::kNone;
  size_t device_label = 0;  // index into cache::kDeviceLabelNames, with PodRule::kDevice
  std::string_view device;  // that label's value
  std::string_view pod_name;
  std::string_view pod_uid;
  const cache::WorkloadList* workloads = nullptr;
  bool workloads_by_uid = false;  // false: looked up by pod name
  bool dropped = false;
  DropReason drop_reason = DropReason::kNoPod;
  size_t samples_out = 0;  // samples written per workload
};

// Sees every series the enricher finishes (not those of a request it refuses).
class SeriesObserver {
 public:
  virtual ~SeriesObserver() = default;
  virtual void onResolved(const SeriesResolution& resolution) = 0;
};

// Beyond either limit the request is refused whole (ResourceExhausted, 413) naming the key.
struct EnrichLimits {
  size_t max_output_bytes = config::HttpConfig{}.max_enriched_bytes;  // one request's output
  size_t max_series_label_bytes = config::HttpConfig{}.max_series_label_bytes;  // one series
};

class SeriesEnricher : public ingest::SeriesSink {
 public:
  // Appends WriteRequest fields (timeseries and metadata) to `lanes`: each series to the one
  // prompb::laneOfSeries() names, metadata to the first. With one lane there is nothing to hash.
  SeriesEnricher(const cache::ClusterSnapshot& snapshot, std::span<prompb::OutputBuffer> lanes,
                 EnrichLimits limits = {});
  SeriesEnricher(const cache::ClusterSnapshot& snapshot, prompb::OutputBuffer& out,
                 EnrichLimits limits = {})
      : SeriesEnricher(snapshot, std::span<prompb::OutputBuffer>(&out, 1), limits) {}

  absl::Status onSeries(const ingest::DecodedSeries& series) override;
  absl::Status onMetadata(const ingest::MetadataView& metadata) override;

  // Told of every series after it was written or dropped; null (the default) costs a branch.
  void setObserver(SeriesObserver* observer) { observer_ = observer; }

  const EnrichCounts& counts() const { return counts_; }
  // The samples written to each lane (they add up to counts().samples_out).
  std::span<const size_t> laneSamples() const {
    return {lane_samples_.data(), lane_samples_.size()};
  }

 private:
  struct ResolvedPod {
    std::string_view name;
    std::string_view uid;
    const cache::WorkloadList* workloads = nullptr;
    PodRule rule = PodRule::kNone;
    size_t device_label = 0;
    std::string_view device;
    bool workloads_by_uid = false;
  };
  // The input labels the rules look at, found in one pass over the series.
  struct KeyLabels {
    std::string_view name;
    std::string_view node;
    std::array<std::string_view, cache::kDeviceLabels> devices;
    std::string_view pod;
    std::string_view uid;
  };
  static KeyLabels findKeyLabels(const std::vector<ingest::LabelView>& labels);
  bool resolvePod(const KeyLabels& keys, ResolvedPod* pod) const;
  // `drop`: null when the series was written.
  void observe(const ingest::DecodedSeries& series, const KeyLabels& keys, const ResolvedPod& pod,
               const DropReason* drop, size_t samples_out) const;
  absl::Status writeSeries(const ingest::DecodedSeries& series,
                           const std::vector<ingest::LabelView>& labels, size_t kept_samples);
  absl::Status writeMetadata(const ingest::MetadataView& metadata, std::string_view family_name);
  // ResourceExhausted unless `size` more bytes keep the output within its limit.
  absl::Status reserveOutput(size_t size) const;

  const cache::ClusterSnapshot& snapshot_;
  std::span<prompb::OutputBuffer> lanes_;
  absl::InlinedVector<size_t, 8> lane_samples_;
  size_t written_ = 0;  // bytes appended to all lanes
  EnrichLimits limits_;
  EnrichCounts counts_;
  size_t series_seen_ = 0;
  absl::flat_hash_set<std::string> metadata_written_;
  SeriesObserver* observer_ = nullptr;
};

}  // namespace tp::enrich
