#pragma once
// The training series (docs/TRAINING.md): each performance row becomes one remote-write sample
// per field present, `workload_training_<name>` in base units, labelled with its workload, run,
// pod, namespace, node and rank, at the line's log time; each checkpoint save with a known
// duration becomes a `workload_training_checkpoint_seconds` sample. The training writer encodes
// a batch once the database has decided its serials and submits it through the forwarder, so the
// samples share the metrics path's endpoints, disk queues, lanes and guarantees.
//
// Non-finite values are sent as they are (NaN, ±Inf), never as the staleness marker. A series
// repeated within a batch at one timestamp gives one sample; each series of a batch is written
// once, its samples in time order. Each workload may have at most
// training.series.maxPerWorkload distinct series in this replica's memory (a guard for storage,
// not a count the replicas share): samples of series beyond it are dropped and counted. A series
// not sent for kForgetSeriesAfter is forgotten, so the budget and the memory follow what is
// running. Once its buffers have grown, a batch of known series allocates nothing.
// Used by the training writer's thread only.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/clock.h"
#include "config/config.h"
#include "prompb/wire.h"
#include "rapidjson/reader.h"
#include "telemetry/telemetry.h"
#include "training/training_items.h"

namespace tp::training {

// A series of a workload that sent nothing for this long no longer counts against its budget.
inline constexpr std::chrono::hours kForgetSeriesAfter{24};

// A row, with the serial the database gave its run.
struct RowOfRun {
  const PendingPerformance* row = nullptr;
  int serial = 0;
};

// A completed checkpoint save: the line that ended it, its run, and how long it took.
struct SaveOfRun {
  const PendingLifecycle* end = nullptr;
  int serial = 0;
  int64_t duration_ms = 0;
};

class TrainingSeriesEncoder {
 public:
  // Empty `metrics` count nothing: the explain route's encoders, whose output is only shown.
  TrainingSeriesEncoder(const config::TrainingSeriesConfig& config,
                        telemetry::TrainingSeriesMetrics metrics,
                        const common::Clock& clock = common::systemClock());

  // Appends the samples of `rows` and `saves` to `lanes` as WriteRequest timeseries fields, each
  // series to the lane prompb::laneOfSeries names, and adds each lane's samples to
  // `lane_samples` (as many as lanes).
  void encode(std::span<const RowOfRun> rows, std::span<const SaveOfRun> saves,
              std::span<prompb::OutputBuffer> lanes, std::span<size_t> lane_samples);
  // Counts the samples of the last encode() as queued or dropped over the budget: called once its
  // output is in the forwarder's queue, so that a batch tried again is counted once.
  void countEncoded();

 private:
  // A number of the row's document, by its key (pointing into document_).
  struct DocumentValue {
    std::string_view key;
    double value = 0;
  };
  // Indexes of entries by a hash of theirs (open addressing), cleared per batch without giving
  // its storage back.
  class IndexTable {
   public:
    void clear() {
      std::fill(slots_.begin(), slots_.end(), Slot{});
      size_ = 0;
    }
    // The index of the entry of `hash` that `matches(index)` accepts; else the next index
    // (added: true), which the caller appends.
    template <typename Matches>
    std::pair<uint32_t, bool> findOrAdd(uint64_t hash, const Matches& matches);

   private:
    struct Slot {
      uint64_t hash = 0;
      uint32_t index = 0;  // + 1; 0: empty
    };
    void grow();
    std::vector<Slot> slots_;
    uint32_t size_ = 0;
  };
  // The labels besides __name__ that a line's series share (job ... workload_uid), encoded.
  struct LabelSet {
    uint32_t offset = 0;  // into label_set_fields_
    uint32_t size = 0;
    uint64_t hash = 0;              // prompb::stableHash of the fields
    std::string_view workload_uid;  // of a row of the batch
  };
  // A distinct series of the batch: a label set and a name, its lane, whether the budget lets it
  // through, and its samples in sorted_.
  struct BatchSeries {
    uint32_t label_set = 0;
    uint32_t name = 0;  // into names_
    uint32_t lane = 0;
    bool admitted = false;
  };
  struct BatchSample {
    uint32_t series = 0;
    uint32_t order = 0;  // among the batch's samples: the first of a repeat is kept
    int64_t timestamp_ms = 0;
    double value = 0;
  };
  // A series held against its workload's budget: when it was last sent, and its lane (hashed
  // once, for this many lanes).
  struct TrackedSeries {
    common::Clock::TimePoint last_sent{};
    uint32_t lanes = 0;
    uint32_t lane = 0;
  };
  // The series of one workload, by a hash of their label set's hash and their name's id (both
  // stable in the process).
  struct WorkloadSeries {
    absl::flat_hash_map<uint64_t, TrackedSeries> series;
    bool reported_full = false;  // the warning is logged once per time the budget fills
  };

  bool parseDocument(const std::string& json);
  // Makes the line's label set the current one.
  void setLabels(const SeriesLabels& labels, std::string_view pod_uid,
                 std::string_view workload_uid, int serial);
  uint32_t nameId(std::string_view custom_key);
  void addSample(uint32_t name, double value, int64_t timestamp_ms);
  void admit(std::span<prompb::OutputBuffer> lanes, common::Clock::TimePoint now);
  uint32_t laneOf(const BatchSeries& series, size_t lanes);
  void forgetIdle(common::Clock::TimePoint now);
  void sortSamples();
  void write(std::span<prompb::OutputBuffer> lanes, std::span<size_t> lane_samples);

  const size_t max_per_workload_;
  const telemetry::TrainingSeriesMetrics metrics_;
  const common::Clock& clock_;

  // Metric names by id: the fields' in Field order, the checkpoint's, then custom keys' as met
  // (configured patterns name a fixed set).
  std::vector<std::string> names_;
  absl::flat_hash_map<std::string, uint32_t> name_ids_;

  // One row at a time: its document parsed in place, its numbers, its labels.
  rapidjson::Reader reader_;
  std::string document_;
  std::vector<DocumentValue> values_;
  std::string custom_name_;
  prompb::OutputBuffer labels_;
  uint32_t label_set_ = 0;

  // The batch: its distinct label sets and series, and its samples (sorted_: by series, then
  // time, series_begin_ marking where each series' samples begin).
  std::string label_set_fields_;
  std::vector<LabelSet> label_sets_;
  IndexTable label_set_index_;
  std::vector<BatchSeries> batch_series_;
  IndexTable series_index_;
  std::vector<BatchSample> samples_;
  std::vector<BatchSample> sorted_;
  std::vector<uint32_t> series_begin_;
  std::vector<uint32_t> series_next_;
  prompb::OutputBuffer series_fields_;

  absl::flat_hash_map<std::string, WorkloadSeries> workloads_;
  size_t tracked_ = 0;  // series over all workloads
  common::Clock::TimePoint next_sweep_{};
  struct EncodedCounts {
    size_t queued = 0;
    size_t over_budget = 0;
  };
  EncodedCounts encoded_;  // of the last encode(), not yet counted
};

}  // namespace tp::training
