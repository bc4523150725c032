#pragma once
// The training series (docs/TRAINING.md): each performance row becomes one remote-write sample
// per field present, `workload_training_<name>` in base units, labelled with its workload, run,
// pod, namespace, node and rank, at the line's log time; each checkpoint save with a known
// duration becomes a `workload_training_checkpoint_seconds` sample. The training writer encodes
// a batch once the database has decided its serials and submits it through the forwarder, so the
// samples share the metrics path's endpoints, disk queues, lanes and guarantees.
//
// Non-finite values are sent as they are (NaN, ±Inf), never as the staleness marker. A series
// repeated within a batch at one timestamp gives one sample. Each workload may have at most
// training.series.maxPerWorkload distinct series in this replica's memory (a guard for storage,
// not a count the replicas share): samples of series beyond it are dropped and counted.
// Used by the training writer's thread only.

#include <cstdint>
#include <span>
#include <string_view>

#include "common/clock.h"
#include "config/config.h"
#include "prompb/wire.h"
#include "telemetry/telemetry.h"
#include "training/training_items.h"

namespace tp::training {

inline constexpr std::string_view kTrainingSeriesJob = "primus-lens-telemetry-processor";

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
  TrainingSeriesEncoder(const config::TrainingSeriesConfig& config,
                        telemetry::TrainingSeriesMetrics metrics,
                        const common::Clock& clock = common::systemClock());

  // Appends the samples of `rows` and `saves` to `lanes` as WriteRequest timeseries fields, each
  // series to the lane prompb::laneOfSeries names, and adds each lane's samples to
  // `lane_samples` (as many as lanes).
  void encode(std::span<const RowOfRun> rows, std::span<const SaveOfRun> saves,
              std::span<prompb::OutputBuffer> lanes, std::span<size_t> lane_samples);
};

}  // namespace tp::training
