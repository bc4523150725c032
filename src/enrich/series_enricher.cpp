#include "enrich/series_enricher.h"

#include <algorithm>

#include "common/product.h"
#include "common/status.h"
#include "common/strings.h"
#include "prompb/fields.h"
#include "prompb/lane.h"
#include "prompb/wire.h"

namespace tp::enrich {
namespace {

namespace v1 = prompb::v1;
using ingest::LabelView;
using prompb::WireWriter;

constexpr std::string_view kNodeLabel = "primus_lens_node_name";
constexpr std::string_view kPodLabel = "pod";
constexpr std::string_view kUidLabel = "uid";
constexpr std::string_view kUnknownUid = "unknown";
constexpr std::string_view kWorkloadPrefix = "workload_";

// Labels the rewrite sets; input labels of these names are replaced, never duplicated.
constexpr std::array<std::string_view, 6> kRewrittenLabels = {
    "__name__", "job", "pod_name", "pod_uid", "workload_name", "workload_uid"};

// Device label names are few: a mask of their lengths keeps the comparisons off most labels.
constexpr uint64_t kDeviceLabelLengths = [] {
  uint64_t lengths = 0;
  for (std::string_view name : cache::kDeviceLabelNames) lengths |= uint64_t{1} << name.size();
  return lengths;
}();
static_assert(std::all_of(cache::kDeviceLabelNames.begin(), cache::kDeviceLabelNames.end(),
                          [](std::string_view name) { return name.size() < 64; }));

size_t labelMessageSize(const LabelView& label) {
  return WireWriter::bytesFieldSize(v1::label::kName, label.name.size()) +
         WireWriter::bytesFieldSize(v1::label::kValue, label.value.size());
}

// A Label as field `field` of its message (TimeSeries or Exemplar).
void writeLabel(WireWriter& writer, uint32_t field, const LabelView& label) {
  writer.lengthPrefix(field, labelMessageSize(label));
  writer.bytesField(v1::label::kName, label.name);
  writer.bytesField(v1::label::kValue, label.value);
}

// A double (key and 8 bytes) and a varint timestamp (key and its bytes); Sample and Exemplar
// alike.
size_t valueAndTimestampSize(int64_t timestamp) {
  return 1 + 8 + 1 + WireWriter::varintSize(static_cast<uint64_t>(timestamp));
}

}  // namespace

SeriesEnricher::SeriesEnricher(const cache::ClusterSnapshot& snapshot,
                               std::span<prompb::OutputBuffer> lanes, EnrichLimits limits)
    : snapshot_(snapshot), lanes_(lanes), lane_samples_(lanes.size(), 0), limits_(limits) {}

absl::Status SeriesEnricher::reserveOutput(size_t size) const {
  if (size <= limits_.max_output_bytes && written_ <= limits_.max_output_bytes - size) {
    return absl::OkStatus();
  }
  return absl::ResourceExhaustedError(
      common::concat("enriched request would exceed http.maxEnrichedBytes (",
                     limits_.max_output_bytes, " bytes); send smaller requests"));
}

namespace {

bool isRewritten(std::string_view name) {
  if (name.empty()) return false;
  const char first = name.front();
  if (first != '_' && first != 'j' && first != 'p' && first != 'w') return false;
  return std::find(kRewrittenLabels.begin(), kRewrittenLabels.end(), name) !=
         kRewrittenLabels.end();
}

// Stable (the first of repeated names stays first) and allocation-free; inputs arrive sorted
// or nearly so, which makes this close to linear.
void insertionSortByName(std::vector<LabelView>& labels) {
  for (size_t i = 1; i < labels.size(); ++i) {
    const LabelView moving = labels[i];
    size_t j = i;
    while (j > 0 && moving.name < labels[j - 1].name) {
      labels[j] = labels[j - 1];
      --j;
    }
    labels[j] = moving;
  }
}

// Label names differ in their first byte most of the time: compared here without a call to
// memcmp. Both names are non-empty (the decoder refuses empty ones).
bool nameLess(std::string_view a, std::string_view b) {
  const auto first_a = static_cast<unsigned char>(a.front());
  const auto first_b = static_cast<unsigned char>(b.front());
  if (first_a != first_b) return first_a < first_b;
  return a < b;
}

// Merges sorted input labels (minus the rewritten names, first of repeats kept) with the
// rewritten labels, which are sorted by construction. False when the input is not sorted. Runs
// for every series: `out` is sized once and written in place.
bool mergeSorted(const std::vector<LabelView>& input,
                 const std::array<LabelView, kRewrittenLabels.size()>& rewritten,
                 std::vector<LabelView>& out) {
  out.resize(input.size() + rewritten.size());
  LabelView* next = out.data();
  size_t next_rewritten = 0;
  std::string_view previous;
  for (const LabelView& label : input) {
    if (!previous.empty() && !nameLess(previous, label.name)) {
      if (label.name == previous) continue;
      return false;
    }
    previous = label.name;
    if (isRewritten(label.name)) continue;
    while (next_rewritten < rewritten.size() &&
           nameLess(rewritten[next_rewritten].name, label.name)) {
      *next++ = rewritten[next_rewritten++];
    }
    *next++ = label;
  }
  while (next_rewritten < rewritten.size()) *next++ = rewritten[next_rewritten++];
  out.resize(static_cast<size_t>(next - out.data()));
  return true;
}

}  // namespace

SeriesEnricher::KeyLabels SeriesEnricher::findKeyLabels(const std::vector<LabelView>& labels) {
  KeyLabels keys;
  for (const LabelView& label : labels) {
    const std::string_view name = label.name;
    if (name.size() < 64 && (kDeviceLabelLengths >> name.size() & 1) != 0) {
      for (size_t device = 0; device < cache::kDeviceLabels; ++device) {
        if (name == cache::kDeviceLabelNames[device] && keys.devices[device].empty()) {
          keys.devices[device] = label.value;
        }
      }
    }
    switch (name.size()) {
      case 3:
        if (name == kPodLabel && keys.pod.empty()) keys.pod = label.value;
        if (name == kUidLabel && keys.uid.empty()) keys.uid = label.value;
        break;
      case 8:
        if (name == "__name__" && keys.name.empty()) keys.name = label.value;
        break;
      case kNodeLabel.size():
        if (name == kNodeLabel && keys.node.empty()) keys.node = label.value;
        break;
      default:
        break;
    }
  }
  return keys;
}

bool SeriesEnricher::resolvePod(const KeyLabels& keys, ResolvedPod* pod) const {
  if (!keys.node.empty()) {
    if (const auto* devices = snapshot_.node(keys.node)) {
      for (size_t label = 0; label < cache::kDeviceLabels; ++label) {
        const std::string_view key = keys.devices[label];
        if (key.empty()) continue;
        const auto& map = (*devices)[label];
        const auto it = map.find(absl::string_view(key.data(), key.size()));
        if (it == map.end()) continue;
        const cache::PodRef* ref = it->second;
        const bool by_uid = ref->workloads_by_uid != nullptr;
        *pod = {.name = ref->name,
                .uid = ref->uid,
                .workloads = by_uid ? ref->workloads_by_uid : ref->workloads_by_name,
                .rule = PodRule::kDevice,
                .device_label = label,
                .device = key,
                .workloads_by_uid = by_uid};
        return true;
      }
    }
  }
  if (keys.pod.empty()) return false;
  pod->name = keys.pod;
  pod->uid = keys.uid.empty() ? kUnknownUid : keys.uid;
  pod->rule = keys.uid.empty() ? PodRule::kPod : PodRule::kPodAndUid;
  pod->workloads = keys.uid.empty() ? nullptr : snapshot_.workloadsOfPodUid(keys.uid);
  pod->workloads_by_uid = pod->workloads != nullptr;
  if (pod->workloads == nullptr) pod->workloads = snapshot_.workloadsOfPodName(keys.pod);
  return true;
}

void SeriesEnricher::observe(const ingest::DecodedSeries& series, const KeyLabels& keys,
                             const ResolvedPod& pod, const DropReason* drop,
                             size_t samples_out) const {
  SeriesResolution resolution{.series = series,
                              .metric_name = keys.name,
                              .node = keys.node,
                              .rule = pod.rule,
                              .device_label = pod.device_label,
                              .device = pod.device,
                              .pod_name = pod.name,
                              .pod_uid = pod.uid,
                              .workloads = pod.workloads,
                              .workloads_by_uid = pod.workloads_by_uid,
                              .dropped = drop != nullptr,
                              .drop_reason = drop != nullptr ? *drop : DropReason::kNoPod,
                              .samples_out = samples_out};
  observer_->onResolved(resolution);
}

absl::Status SeriesEnricher::onSeries(const ingest::DecodedSeries& series) {
  thread_local std::vector<LabelView> labels;
  thread_local std::string metric_name;
  ++series_seen_;
  const KeyLabels found = findKeyLabels(series.labels);
  ResolvedPod pod;
  const auto drop = [&](DropReason reason) {
    counts_.dropped_series[static_cast<size_t>(reason)]++;
    counts_.dropped_samples[static_cast<size_t>(reason)] += series.samples.size();
    if (observer_ != nullptr) observe(series, found, pod, &reason, 0);
    return absl::OkStatus();
  };

  if (found.name.empty()) return drop(DropReason::kNoMetricName);
  if (!resolvePod(found, &pod)) return drop(DropReason::kNoPod);
  if (pod.workloads == nullptr || pod.workloads->empty()) return drop(DropReason::kNoWorkload);

  size_t kept_samples = 0;
  for (const ingest::Sample& sample : series.samples) kept_samples += !(sample.value < 0);
  const size_t negative = series.samples.size() - kept_samples;
  counts_.dropped_samples[static_cast<size_t>(DropReason::kNegativeValue)] += negative;
  if (kept_samples == 0 && series.histograms.empty()) {
    counts_.dropped_series[static_cast<size_t>(DropReason::kNegativeValue)]++;
    if (observer_ != nullptr) {
      const DropReason reason = DropReason::kNegativeValue;
      observe(series, found, pod, &reason, 0);
    }
    return absl::OkStatus();
  }

  metric_name.assign(kWorkloadPrefix);
  metric_name.append(found.name);
  const std::array<LabelView, kRewrittenLabels.size()> rewritten = {
      {{kRewrittenLabels[0], metric_name},
       {kRewrittenLabels[1], common::kProcessorName},
       {kRewrittenLabels[2], pod.name},
       {kRewrittenLabels[3], pod.uid},
       {kRewrittenLabels[4], {}},
       {kRewrittenLabels[5], {}}}};
  if (!mergeSorted(series.labels, rewritten, labels)) {
    // Unsorted input (rare: senders sort): collect, sort stably, keep the first of repeats.
    labels.clear();
    for (const LabelView& label : series.labels) {
      if (!isRewritten(label.name)) labels.push_back(label);
    }
    labels.insert(labels.end(), rewritten.begin(), rewritten.end());
    insertionSortByName(labels);
    labels.erase(
        std::unique(labels.begin(), labels.end(),
                    [](const LabelView& a, const LabelView& b) { return a.name == b.name; }),
        labels.end());
  }
  LabelView* workload_name = nullptr;
  LabelView* workload_uid = nullptr;
  size_t label_bytes = 0;
  for (LabelView& label : labels) {
    if (label.name == kRewrittenLabels[4]) workload_name = &label;
    if (label.name == kRewrittenLabels[5]) workload_uid = &label;
    label_bytes += label.name.size() + label.value.size();
  }
  for (const cache::WorkloadRef* workload : *pod.workloads) {
    const size_t workload_bytes = label_bytes + workload->name.size() + workload->uid.size();
    if (workload_bytes > limits_.max_series_label_bytes) {
      return absl::ResourceExhaustedError(common::concat(
          "timeseries ", series_seen_ - 1, ": its labels resolve to ", workload_bytes,
          " bytes, over http.maxSeriesLabelBytes (", limits_.max_series_label_bytes, ")"));
    }
    workload_name->value = workload->name;
    workload_uid->value = workload->uid;
    TP_RETURN_IF_ERROR(writeSeries(series, labels, kept_samples));
    counts_.series_out++;
    counts_.samples_out += kept_samples;
    counts_.histograms_out += series.histograms.size();
    counts_.exemplars_out += series.exemplars.size();
  }
  if (observer_ != nullptr) observe(series, found, pod, nullptr, kept_samples);
  // 2.0 carries metadata on every series; forward it once per family and request.
  if (series.has_metadata && metadata_written_.insert(metric_name).second) {
    return writeMetadata(series.metadata, metric_name);
  }
  return absl::OkStatus();
}

absl::Status SeriesEnricher::writeSeries(const ingest::DecodedSeries& series,
                                         const std::vector<LabelView>& labels,
                                         size_t kept_samples) {
  namespace field = v1::time_series;
  size_t labels_size = 0;
  for (const LabelView& label : labels) {
    labels_size += WireWriter::bytesFieldSize(field::kLabels, labelMessageSize(label));
  }
  size_t size = labels_size;
  for (const ingest::Sample& sample : series.samples) {
    if (!(sample.value < 0)) {
      size += WireWriter::bytesFieldSize(field::kSamples, valueAndTimestampSize(sample.timestamp));
    }
  }
  const auto exemplar_size = [&series](const ingest::Exemplar& exemplar) {
    size_t inner = valueAndTimestampSize(exemplar.timestamp);
    for (uint32_t i = exemplar.labels_begin; i < exemplar.labels_end; ++i) {
      inner += WireWriter::bytesFieldSize(v1::exemplar::kLabels,
                                          labelMessageSize(series.exemplar_labels[i]));
    }
    return inner;
  };
  for (const ingest::Exemplar& exemplar : series.exemplars) {
    size += WireWriter::bytesFieldSize(field::kExemplars, exemplar_size(exemplar));
  }
  for (std::string_view histogram : series.histograms) {
    size += WireWriter::bytesFieldSize(field::kHistograms, histogram.size());
  }

  const size_t message_size = WireWriter::bytesFieldSize(v1::write_request::kTimeseries, size);
  TP_RETURN_IF_ERROR(reserveOutput(message_size));
  // With several lanes the labels are encoded apart first: their bytes name the lane.
  thread_local prompb::OutputBuffer label_fields;
  size_t lane = 0;
  if (lanes_.size() > 1) {
    label_fields.clear();
    {
      WireWriter labels_writer(label_fields, labels_size);
      for (const LabelView& label : labels) writeLabel(labels_writer, field::kLabels, label);
    }
    lane = prompb::laneOfSeries(label_fields.view(), lanes_.size());
  }
  WireWriter writer(lanes_[lane], message_size);
  writer.lengthPrefix(v1::write_request::kTimeseries, size);
  if (lanes_.size() > 1) {
    writer.raw(label_fields.view());
  } else {
    for (const LabelView& label : labels) writeLabel(writer, field::kLabels, label);
  }
  for (const ingest::Sample& sample : series.samples) {
    if (sample.value < 0) continue;
    writer.lengthPrefix(field::kSamples, valueAndTimestampSize(sample.timestamp));
    writer.doubleField(v1::sample::kValue, sample.value);
    writer.varintField(v1::sample::kTimestamp, static_cast<uint64_t>(sample.timestamp));
  }
  for (const ingest::Exemplar& exemplar : series.exemplars) {
    writer.lengthPrefix(field::kExemplars, exemplar_size(exemplar));
    for (uint32_t i = exemplar.labels_begin; i < exemplar.labels_end; ++i) {
      writeLabel(writer, v1::exemplar::kLabels, series.exemplar_labels[i]);
    }
    writer.doubleField(v1::exemplar::kValue, exemplar.value);
    writer.varintField(v1::exemplar::kTimestamp, static_cast<uint64_t>(exemplar.timestamp));
  }
  for (std::string_view histogram : series.histograms) {
    writer.bytesField(field::kHistograms, histogram);
  }
  written_ += message_size;
  lane_samples_[lane] += kept_samples;
  return absl::OkStatus();
}

absl::Status SeriesEnricher::onMetadata(const ingest::MetadataView& metadata) {
  thread_local std::string family;
  if (metadata.family_name.empty()) return absl::OkStatus();
  family.assign(kWorkloadPrefix);
  family.append(metadata.family_name);
  return writeMetadata(metadata, family);
}

absl::Status SeriesEnricher::writeMetadata(const ingest::MetadataView& metadata,
                                           std::string_view family_name) {
  namespace field = v1::metric_metadata;
  const size_t size = 1 + WireWriter::varintSize(metadata.type) +
                      WireWriter::bytesFieldSize(field::kMetricFamilyName, family_name.size()) +
                      WireWriter::bytesFieldSize(field::kHelp, metadata.help.size()) +
                      WireWriter::bytesFieldSize(field::kUnit, metadata.unit.size());
  const size_t message_size = WireWriter::bytesFieldSize(v1::write_request::kMetadata, size);
  TP_RETURN_IF_ERROR(reserveOutput(message_size));
  WireWriter writer(lanes_[0], message_size);
  written_ += message_size;
  writer.lengthPrefix(v1::write_request::kMetadata, size);
  writer.varintField(field::kType, metadata.type);
  writer.bytesField(field::kMetricFamilyName, family_name);
  writer.bytesField(field::kHelp, metadata.help);
  writer.bytesField(field::kUnit, metadata.unit);
  return absl::OkStatus();
}

}  // namespace tp::enrich
