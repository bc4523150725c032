#include "training/training_series.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cmath>
#include <limits>

#include "common/product.h"
#include "prompb/fields.h"
#include "prompb/lane.h"
#include "prompb/series.h"
#include "spdlog/spdlog.h"
#include "training/performance_extractor.h"

namespace tp::training {
namespace {

namespace v1 = prompb::v1;
using prompb::labelFieldSize;
using prompb::sampleMessageSize;
using prompb::WireWriter;
using prompb::writeLabel;

constexpr std::string_view kNamePrefix = "workload_training_";
constexpr std::string_view kCheckpointSeconds = "workload_training_checkpoint_seconds";
// Primus prints its memory block in GiB: bytes / 1024**3, labelled "GB".
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
// How often idle series are looked for (they are forgotten after kForgetSeriesAfter).
constexpr std::chrono::minutes kSweepInterval{10};

struct FieldSeries {
  std::string_view name;
  double scale = 1;
};

// The series of each field of the document, in base units.
constexpr FieldSeries seriesOf(Field field) {
  switch (field) {
    case Field::kCurrentIteration:
      return {"workload_training_iteration"};
    case Field::kTargetIteration:
      return {"workload_training_target_iterations"};
    case Field::kConsumedSamples:
      return {"workload_training_consumed_samples"};
    case Field::kElapsedTimePerIterationMs:
      return {"workload_training_step_seconds", 1e-3};
    case Field::kMemUsages:
      return {"workload_training_memory_used_bytes", kGiB};
    case Field::kMemFree:
      return {"workload_training_memory_free_bytes", kGiB};
    case Field::kMemTotal:
      return {"workload_training_memory_total_bytes", kGiB};
    case Field::kMemUsageRatio:
      return {"workload_training_memory_usage_ratio", 1e-2};
    case Field::kTflops:
      return {"workload_training_tflops_per_gpu"};
    case Field::kTokensPerGpu:
      return {"workload_training_tokens_per_gpu_per_second"};
    case Field::kLearningRate:
      return {"workload_training_learning_rate"};
    case Field::kGlobalBatchSize:
      return {"workload_training_global_batch_size"};
    case Field::kLmLoss:
      return {"workload_training_loss"};
    case Field::kLossScale:
      return {"workload_training_loss_scale"};
    case Field::kGradNorm:
      return {"workload_training_grad_norm"};
    case Field::kNumZeros:
      return {"workload_training_num_zeros"};
    case Field::kSkippedIterationsNumber:
      return {"workload_training_skipped_iterations"};
    case Field::kNanIterationsNumber:
      return {"workload_training_nan_iterations"};
    case Field::kMfu:
      return {"workload_training_mfu", 1e-2};
    case Field::kCount:
      break;
  }
  return {};
}

constexpr std::array<FieldSeries, kFieldCount> kFieldSeries = [] {
  std::array<FieldSeries, kFieldCount> series{};
  for (size_t i = 0; i < kFieldCount; ++i) series[i] = seriesOf(static_cast<Field>(i));
  return series;
}();

// The field a document key names, or kFieldCount for a custom key. Documents list their fields
// in kFieldNames order, so the search starts after the previous match.
size_t fieldOf(std::string_view key, size_t& next) {
  for (size_t step = 0; step < kFieldCount; ++step) {
    const size_t i = (next + step) % kFieldCount;
    if (kFieldNames[i] == key) {
      next = i + 1;
      return i;
    }
  }
  return kFieldCount;
}

// A NaN of the document as Prometheus's ordinary NaN, never the staleness marker's bits.
double sampleValue(double value) {
  return std::isnan(value) ? std::numeric_limits<double>::quiet_NaN() : value;
}

// The numbers at the top level of a performance document into `values` ({key, number} items);
// "NaN", "+Inf" and "-Inf" are numbers.
template <typename Values>
class DocumentHandler
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, DocumentHandler<Values>> {
 public:
  explicit DocumentHandler(Values& values) : values_(values) {}

  // rapidjson's handler interface names these.
  // NOLINTBEGIN(readability-identifier-naming)
  bool StartObject() { return enter(); }
  bool EndObject(rapidjson::SizeType /*members*/) { return leave(); }
  bool StartArray() { return enter(); }
  bool EndArray(rapidjson::SizeType /*elements*/) { return leave(); }
  bool Key(const char* text, rapidjson::SizeType length, bool /*copy*/) {
    if (depth_ == 1) key_ = std::string_view(text, length);
    return true;
  }
  bool Int(int value) { return number(value); }
  bool Uint(unsigned value) { return number(value); }
  bool Int64(int64_t value) { return number(static_cast<double>(value)); }
  bool Uint64(uint64_t value) { return number(static_cast<double>(value)); }
  bool Double(double value) { return number(value); }
  bool String(const char* text, rapidjson::SizeType length, bool /*copy*/) {
    const std::string_view value(text, length);
    constexpr double kInf = std::numeric_limits<double>::infinity();
    if (value == "NaN") return number(std::numeric_limits<double>::quiet_NaN());
    if (value == "+Inf") return number(kInf);
    if (value == "-Inf") return number(-kInf);
    return true;
  }
  // NOLINTEND(readability-identifier-naming)

 private:
  bool enter() {
    ++depth_;
    return true;
  }
  bool leave() {
    --depth_;
    return true;
  }
  bool number(double value) {
    if (depth_ == 1) values_.push_back({key_, value});
    return true;
  }

  Values& values_;
  int depth_ = 0;
  std::string_view key_;
};

// A series' key from a hash (or index) of its label set and its name's id.
uint64_t seriesKeyHash(uint64_t label_set, uint32_t name) {
  uint64_t hash = (label_set ^ (uint64_t{name} << 40 | name)) * 0x9e3779b97f4a7c15ull;
  return hash ^ (hash >> 32);
}

}  // namespace

template <typename Matches>
std::pair<uint32_t, bool> TrainingSeriesEncoder::IndexTable::findOrAdd(uint64_t hash,
                                                                       const Matches& matches) {
  if (2 * (size_t{size_} + 1) > slots_.size()) grow();
  const size_t mask = slots_.size() - 1;
  for (size_t at = hash & mask;; at = (at + 1) & mask) {
    Slot& slot = slots_[at];
    if (slot.index == 0) {
      slot = {hash, ++size_};
      return {size_ - 1, true};
    }
    if (slot.hash == hash && matches(slot.index - 1)) return {slot.index - 1, false};
  }
}

void TrainingSeriesEncoder::IndexTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(std::max<size_t>(64, 2 * old.size()), Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.index == 0) continue;
    size_t at = slot.hash & mask;
    while (slots_[at].index != 0) at = (at + 1) & mask;
    slots_[at] = slot;
  }
}

TrainingSeriesEncoder::TrainingSeriesEncoder(const config::TrainingSeriesConfig& config,
                                             telemetry::TrainingSeriesMetrics metrics,
                                             const common::Clock& clock)
    : max_per_workload_(static_cast<size_t>(std::max(config.max_per_workload, 0))),
      metrics_(metrics),
      clock_(clock) {
  for (const FieldSeries& series : kFieldSeries) names_.emplace_back(series.name);
  names_.emplace_back(kCheckpointSeconds);
  for (uint32_t id = 0; id < names_.size(); ++id) name_ids_.emplace(names_[id], id);
}

bool TrainingSeriesEncoder::parseDocument(const std::string& json) {
  values_.clear();
  document_.assign(json);  // parsed in place: keys point into it until the next row
  DocumentHandler handler(values_);
  rapidjson::InsituStringStream stream(document_.data());
  constexpr unsigned kFlags = rapidjson::kParseInsituFlag | rapidjson::kParseFullPrecisionFlag;
  return !reader_.Parse<kFlags>(stream, handler).IsError();
}

void TrainingSeriesEncoder::setLabels(const SeriesLabels& labels, std::string_view pod_uid,
                                      std::string_view workload_uid, int serial) {
  char run[16];
  const auto [run_end, error] = std::to_chars(run, run + sizeof(run), serial);
  assert(error == std::errc());
  // Sorted by name, as remote write requires; empty values are no label.
  const std::array<std::pair<std::string_view, std::string_view>, 9> common = {{
      {"job", common::kProcessorName},
      {"namespace", labels.namespace_name},
      {"node", labels.node},
      {"pod_name", labels.pod_name},
      {"pod_uid", pod_uid},
      {"rank", labels.rank},
      {"run", std::string_view(run, static_cast<size_t>(run_end - run))},
      {"workload_name", labels.workload_name},
      {"workload_uid", workload_uid},
  }};
  size_t size = 0;
  for (const auto& [name, value] : common) {
    if (!value.empty()) size += labelFieldSize(name, value);
  }
  labels_.clear();
  {
    WireWriter writer(labels_, size);
    for (const auto& [name, value] : common) {
      if (!value.empty()) writeLabel(writer, name, value);
    }
  }
  // Lines of one pod and rank share their labels: one hash per line, not per sample.
  const std::string_view fields = labels_.view();
  const uint64_t hash = prompb::stableHash(fields);
  const auto [index, added] = label_set_index_.findOrAdd(hash, [&](uint32_t candidate) {
    const LabelSet& set = label_sets_[candidate];
    return std::string_view(label_set_fields_).substr(set.offset, set.size) == fields;
  });
  if (added) {
    label_sets_.push_back({static_cast<uint32_t>(label_set_fields_.size()),
                           static_cast<uint32_t>(fields.size()), hash, workload_uid});
    label_set_fields_.append(fields);
  }
  label_set_ = index;
}

uint32_t TrainingSeriesEncoder::nameId(std::string_view custom_key) {
  custom_name_.assign(kNamePrefix);
  for (const char c : custom_key) {
    const bool valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == ':';
    custom_name_.push_back(valid ? c : '_');
  }
  const auto [it, added] =
      name_ids_.try_emplace(custom_name_, static_cast<uint32_t>(names_.size()));
  if (added) names_.push_back(custom_name_);
  return it->second;
}

void TrainingSeriesEncoder::addSample(uint32_t name, double value, int64_t timestamp_ms) {
  const auto [series, added] =
      series_index_.findOrAdd(seriesKeyHash(label_set_, name), [&](uint32_t candidate) {
        return batch_series_[candidate].label_set == label_set_ &&
               batch_series_[candidate].name == name;
      });
  if (added) batch_series_.push_back({label_set_, name});
  samples_.push_back(
      {series, static_cast<uint32_t>(samples_.size()), timestamp_ms, sampleValue(value)});
}

void TrainingSeriesEncoder::admit(std::span<prompb::OutputBuffer> lanes,
                                  common::Clock::TimePoint now) {
  WorkloadSeries* workload = nullptr;
  std::string_view workload_uid;
  for (BatchSeries& series : batch_series_) {
    const LabelSet& set = label_sets_[series.label_set];
    if (workload == nullptr || set.workload_uid != workload_uid) {
      workload_uid = set.workload_uid;
      // Inserting may move other workloads' entries; only this one is held.
      workload = &workloads_[absl::string_view(workload_uid.data(), workload_uid.size())];
    }
    const uint64_t key = seriesKeyHash(set.hash, series.name);
    auto known = workload->series.find(key);
    if (known == workload->series.end()) {
      if (workload->series.size() >= max_per_workload_) {
        if (!workload->reported_full) {
          workload->reported_full = true;
          spdlog::warn(
              "workload {} reached training.series.maxPerWorkload ({} series): samples of "
              "further series are dropped, counted, until some have been idle for {} h",
              workload_uid, max_per_workload_, kForgetSeriesAfter.count());
        }
        continue;
      }
      known = workload->series.emplace(key, TrackedSeries{}).first;
      ++tracked_;
    }
    TrackedSeries& tracked = known->second;
    tracked.last_sent = now;
    if (tracked.lanes != lanes.size()) {
      tracked.lanes = static_cast<uint32_t>(lanes.size());
      tracked.lane = lanes.size() == 1 ? 0 : laneOf(series, lanes.size());
    }
    series.lane = tracked.lane;
    series.admitted = true;
  }
}

// prompb::laneOfSeries of the series' label fields, as written.
uint32_t TrainingSeriesEncoder::laneOf(const BatchSeries& series, size_t lanes) {
  const LabelSet& set = label_sets_[series.label_set];
  const std::string_view name = names_[series.name];
  series_fields_.clear();
  {
    WireWriter writer(series_fields_, labelFieldSize("__name__", name) + set.size);
    writeLabel(writer, "__name__", name);
    writer.raw(std::string_view(label_set_fields_).substr(set.offset, set.size));
  }
  return static_cast<uint32_t>(prompb::laneOfSeries(series_fields_.view(), lanes));
}

void TrainingSeriesEncoder::forgetIdle(common::Clock::TimePoint now) {
  if (now < next_sweep_) return;
  next_sweep_ = now + kSweepInterval;
  for (auto it = workloads_.begin(); it != workloads_.end();) {
    WorkloadSeries& workload = it->second;
    const size_t forgotten = absl::erase_if(workload.series, [now](const auto& entry) {
      return now - entry.second.last_sent >= kForgetSeriesAfter;
    });
    tracked_ -= forgotten;
    if (forgotten > 0) workload.reported_full = false;
    if (workload.series.empty()) {
      workloads_.erase(it++);
    } else {
      ++it;
    }
  }
}

// By series (counting sort: series are numbered densely), then by time, repeats in the order they
// came.
void TrainingSeriesEncoder::sortSamples() {
  series_begin_.assign(batch_series_.size() + 1, 0);
  for (const BatchSample& sample : samples_) ++series_begin_[sample.series + 1];
  for (size_t i = 1; i < series_begin_.size(); ++i) series_begin_[i] += series_begin_[i - 1];
  series_next_.assign(series_begin_.begin(), series_begin_.end() - 1);
  sorted_.resize(samples_.size());
  for (const BatchSample& sample : samples_) sorted_[series_next_[sample.series]++] = sample;
  const auto earlier = [](const BatchSample& a, const BatchSample& b) {
    return a.timestamp_ms < b.timestamp_ms;
  };
  for (size_t series = 0; series < batch_series_.size(); ++series) {
    const auto begin = sorted_.begin() + series_begin_[series];
    const auto end = sorted_.begin() + series_begin_[series + 1];
    // Lines arrive in order; a sender that sends them otherwise costs a sort, never a quadratic
    // insertion.
    if (!std::is_sorted(begin, end, earlier)) std::stable_sort(begin, end, earlier);
  }
}

void TrainingSeriesEncoder::write(std::span<prompb::OutputBuffer> lanes,
                                  std::span<size_t> lane_samples) {
  namespace field = v1::time_series;
  size_t queued = 0;
  size_t over_budget = 0;
  for (size_t index = 0; index < batch_series_.size(); ++index) {
    const BatchSeries& series = batch_series_[index];
    const size_t begin = series_begin_[index];
    const size_t end = series_begin_[index + 1];
    const auto repeated = [this, begin](size_t i) {
      return i > begin && sorted_[i].timestamp_ms == sorted_[i - 1].timestamp_ms;
    };
    const LabelSet& set = label_sets_[series.label_set];
    const std::string_view name = names_[series.name];
    size_t distinct = 0;
    size_t size = labelFieldSize("__name__", name) + set.size;
    for (size_t i = begin; i < end; ++i) {
      if (repeated(i)) continue;
      ++distinct;
      size +=
          WireWriter::bytesFieldSize(field::kSamples, sampleMessageSize(sorted_[i].timestamp_ms));
    }
    if (!series.admitted) {
      over_budget += distinct;
      continue;
    }
    WireWriter writer(lanes[series.lane],
                      WireWriter::bytesFieldSize(v1::write_request::kTimeseries, size));
    writer.lengthPrefix(v1::write_request::kTimeseries, size);
    writeLabel(writer, "__name__", name);
    writer.raw(std::string_view(label_set_fields_).substr(set.offset, set.size));
    for (size_t i = begin; i < end; ++i) {
      if (repeated(i)) continue;
      prompb::writeSample(writer, {sorted_[i].timestamp_ms, sorted_[i].value});
    }
    lane_samples[series.lane] += distinct;
    queued += distinct;
  }
  encoded_ = {queued, over_budget};
}

void TrainingSeriesEncoder::countEncoded() {
  metrics_.samples->Increment(static_cast<double>(encoded_.queued));
  if (encoded_.over_budget > 0) {
    metrics_.over_budget_samples->Increment(static_cast<double>(encoded_.over_budget));
  }
  encoded_ = {};
}

void TrainingSeriesEncoder::encode(std::span<const RowOfRun> rows, std::span<const SaveOfRun> saves,
                                   std::span<prompb::OutputBuffer> lanes,
                                   std::span<size_t> lane_samples) {
  assert(!lanes.empty() && lane_samples.size() == lanes.size());
  label_set_fields_.clear();
  label_sets_.clear();
  label_set_index_.clear();
  batch_series_.clear();
  series_index_.clear();
  samples_.clear();

  constexpr auto kMemUsageRatio = static_cast<uint32_t>(Field::kMemUsageRatio);
  for (const RowOfRun& of_run : rows) {
    const PendingPerformance& row = *of_run.row;
    if (!parseDocument(row.performance_json)) continue;  // written by this process: not expected
    setLabels(row.labels, row.pod_uid, row.workload_uid, of_run.serial);
    const int64_t timestamp_ms = row.time_us / 1000;
    // Primus's memory block prints used/free/total in GiB; the older "mem usages" alone is the
    // used fraction (1 - free/total), so without the rest of the block it is the usage ratio.
    const bool memory_block = std::any_of(values_.begin(), values_.end(), [](const auto& value) {
      return value.key == kFieldNames[static_cast<size_t>(Field::kMemTotal)] ||
             value.key == kFieldNames[static_cast<size_t>(Field::kMemFree)] ||
             value.key == kFieldNames[kMemUsageRatio];
    });
    size_t next_field = 0;
    for (const DocumentValue& value : values_) {
      const size_t field = fieldOf(value.key, next_field);
      if (field == kFieldCount) {
        addSample(nameId(value.key), value.value, timestamp_ms);
      } else if (field == static_cast<size_t>(Field::kMemUsages) && !memory_block) {
        addSample(kMemUsageRatio, value.value, timestamp_ms);
      } else {
        addSample(static_cast<uint32_t>(field), value.value * kFieldSeries[field].scale,
                  timestamp_ms);
      }
    }
  }
  for (const SaveOfRun& save : saves) {
    const PendingLifecycle& end = *save.end;
    setLabels(end.labels, end.pod_uid, end.workload_uid, save.serial);
    addSample(static_cast<uint32_t>(kFieldCount), static_cast<double>(save.duration_ms) / 1000.0,
              end.time_us / 1000);
  }

  const common::Clock::TimePoint now = clock_.now();
  forgetIdle(now);
  admit(lanes, now);
  sortSamples();
  write(lanes, lane_samples);
  if (metrics_.series != nullptr) metrics_.series->Set(static_cast<double>(tracked_));
}

}  // namespace tp::training
