#include "training/health_rules.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/clock.h"
#include "common/json_writer.h"

namespace tp::training {
namespace {

using storage::HealthEvent;
using storage::HealthEventType;

// A number of the document: JSON numbers and the strings "NaN", "+Inf", "-Inf" (how the rows
// store non-finite values).
std::optional<double> numberAt(simdjson::dom::element document, std::string_view key) {
  simdjson::dom::element value;
  if (document[key].get(value) != simdjson::SUCCESS) return std::nullopt;
  // get_double converts integers too.
  if (double number = 0; value.get_double().get(number) == simdjson::SUCCESS) return number;
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

// The median of `values` (reordered); NaN when empty.
double median(std::vector<double>& values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  if (values.size() % 2 == 1) return *middle;
  const double upper = *middle;
  const double lower = *std::max_element(values.begin(), middle);
  return (lower + upper) / 2;
}

void writeNumber(common::JsonWriter& writer, double value) {
  if (std::isnan(value)) {
    writer.String("NaN");
  } else if (std::isinf(value)) {
    writer.String(value > 0 ? "+Inf" : "-Inf");
  } else {
    writer.Double(value);
  }
}

struct DetailWriter {
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer{buffer};
  DetailWriter() { writer.StartObject(); }
  DetailWriter& integer(const char* key, int64_t value) {
    writer.Key(key);
    writer.Int64(value);
    return *this;
  }
  DetailWriter& number(const char* key, double value) {
    writer.Key(key);
    writeNumber(writer, value);
    return *this;
  }
  DetailWriter& text(const char* key, std::string_view value) {
    writer.Key(key);
    common::writeString(writer, value);
    return *this;
  }
  DetailWriter& boolean(const char* key, bool value) {
    writer.Key(key);
    writer.Bool(value);
    return *this;
  }
  std::string done() {
    writer.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
  }
};

HealthEvent eventOf(const storage::RunKey& run, HealthEventType type, int64_t occurrence,
                    const RowFigures& row, std::string detail) {
  return {.workload_uid = run.workload_uid,
          .run_serial = run.serial,
          .type = type,
          .occurrence = occurrence,
          .time_us = row.time_us,
          .pod_uid = row.pod_uid,
          .detail_json = std::move(detail)};
}

const HealthEvent* findRecorded(std::span<const HealthEvent> recorded, int serial,
                                HealthEventType type, int64_t occurrence) {
  for (const HealthEvent& event : recorded) {
    if (event.run_serial == serial && event.type == type && event.occurrence == occurrence) {
      return &event;
    }
  }
  return nullptr;
}

// The recorded events of `opening` type of the run that no `closing` event of the same
// occurrence follows.
std::vector<const HealthEvent*> openEvents(std::span<const HealthEvent> recorded, int serial,
                                           HealthEventType opening, HealthEventType closing) {
  std::vector<const HealthEvent*> open;
  for (const HealthEvent& event : recorded) {
    if (event.run_serial != serial || event.type != opening) continue;
    if (findRecorded(recorded, serial, closing, event.occurrence) == nullptr) {
      open.push_back(&event);
    }
  }
  return open;
}

std::optional<double> detailNumber(const HealthEvent& event, std::string_view key) {
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(event.detail_json).get(document) != simdjson::SUCCESS) return std::nullopt;
  return numberAt(document, key);
}

bool isNanRow(const RowFigures& row) {
  return (row.loss && !std::isfinite(*row.loss)) || row.nan_iterations > 0;
}

// The throughput field of a run: tflops when its rows have it, else tokens per GPU.
enum class Throughput { kNone, kTflops, kTokensPerGpu };

Throughput throughputOf(std::span<const RowFigures> rows) {
  bool tokens = false;
  for (const RowFigures& row : rows) {
    if (row.tflops) return Throughput::kTflops;
    tokens = tokens || row.tokens_per_gpu.has_value();
  }
  return tokens ? Throughput::kTokensPerGpu : Throughput::kNone;
}

std::optional<double> throughputValue(const RowFigures& row, Throughput field) {
  const std::optional<double> value =
      field == Throughput::kTflops ? row.tflops : row.tokens_per_gpu;
  if (!value || !std::isfinite(*value)) return std::nullopt;
  return value;
}

std::string_view throughputName(Throughput field) {
  return field == Throughput::kTflops ? "tflops" : "tokens_per_gpu";
}

class AnomalyFinder {
 public:
  AnomalyFinder(const config::TrainingAnomalyConfig& config, const storage::RunKey& run,
                std::span<const RowFigures> rows, bool from_run_start,
                std::span<const HealthEvent> recorded)
      : config_(config),
        run_(run),
        rows_(rows),
        from_run_start_(from_run_start),
        recorded_(recorded),
        window_(static_cast<size_t>(config.window)),
        consecutive_(static_cast<size_t>(config.consecutive)),
        throughput_(throughputOf(rows)) {}

  std::vector<HealthEvent> find(size_t first) {
    std::vector<HealthEvent> events;
    for (size_t i = first; i < rows_.size(); ++i) {
      counted(events, i, HealthEventType::kNanIterations, isNanRow, "nan_iterations_number");
      counted(
          events, i, HealthEventType::kSkippedIterations,
          [](const RowFigures& row) { return row.skipped_iterations > 0; },
          "skipped_iterations_number");
      lossSpike(events, i);
    }
    if (throughput_ != Throughput::kNone) throughput(events, first);
    return events;
  }

 private:
  // Row i has the rows a rule looks back at: `back` of them, or all since the run began.
  bool judgeable(size_t i, size_t back) const { return i >= back || from_run_start_; }

  // The latest event of `type` recorded in the stretch of rows `in_stretch` accepts from row
  // `start` on. A replica that saw the stretch before its first rows were written (by another
  // replica's writer, late) recorded it from a later row: the same occurrence, recorded once.
  // The latest, as openDropBefore takes it.
  template <typename InStretch>
  const HealthEvent* recordedWithin(HealthEventType type, size_t start,
                                    const InStretch& in_stretch) const {
    size_t end = start;
    while (end + 1 < rows_.size() && in_stretch(end + 1)) ++end;
    const HealthEvent* latest = nullptr;
    for (const HealthEvent& event : recorded_) {
      if (event.run_serial == run_.serial && event.type == type &&
          event.occurrence >= rows_[start].iteration && event.occurrence <= rows_[end].iteration &&
          (latest == nullptr || event.occurrence > latest->occurrence)) {
        latest = &event;
      }
    }
    return latest;
  }

  // The first row of a stretch of rows `matches` accepts, keyed by its iteration.
  template <typename Matches>
  void counted(std::vector<HealthEvent>& events, size_t i, HealthEventType type,
               const Matches& matches, const char* count_field) {
    if (!judgeable(i, 1) || !matches(rows_[i]) || (i > 0 && matches(rows_[i - 1]))) return;
    if (recordedWithin(type, i, [&](size_t j) { return matches(rows_[j]); })) return;
    const RowFigures& row = rows_[i];
    DetailWriter detail;
    detail.integer("iteration", row.iteration);
    const bool by_loss =
        type == HealthEventType::kNanIterations && row.loss && !std::isfinite(*row.loss);
    if (by_loss) {
      detail.text("field", "lm_loss").number("value", *row.loss);
      const double baseline = lossMedian(i);
      if (!std::isnan(baseline)) detail.number("baseline", baseline);
    } else {
      const double value =
          type == HealthEventType::kNanIterations ? row.nan_iterations : row.skipped_iterations;
      detail.text("field", count_field).number("value", value).number("baseline", 0);
    }
    events.push_back(eventOf(run_, type, row.iteration, row, detail.done()));
  }

  // The median of the finite losses of the `window` rows before row i; NaN without half of them.
  double lossMedian(size_t i) {
    scratch_.clear();
    for (size_t j = i > window_ ? i - window_ : 0; j < i; ++j) {
      if (rows_[j].loss && std::isfinite(*rows_[j].loss)) scratch_.push_back(*rows_[j].loss);
    }
    if (scratch_.size() * 2 < window_) return std::numeric_limits<double>::quiet_NaN();
    return median(scratch_);
  }

  bool isSpike(size_t i, double* baseline) {
    if (i < window_) return false;  // at a run's start the loss falls fast: no window yet
    const RowFigures& row = rows_[i];
    if (!row.loss || !std::isfinite(*row.loss)) return false;
    const double typical = lossMedian(i);
    if (std::isnan(typical) || typical <= 0) return false;
    if (baseline != nullptr) *baseline = typical;
    return *row.loss > config_.loss_spike_factor * typical;
  }

  void lossSpike(std::vector<HealthEvent>& events, size_t i) {
    double baseline = 0;
    if (!judgeable(i, window_ + 1) || !isSpike(i, &baseline) || isSpike(i - 1, nullptr)) return;
    if (recordedWithin(HealthEventType::kLossSpike, i,
                       [&](size_t j) { return isSpike(j, nullptr); })) {
      return;
    }
    const RowFigures& row = rows_[i];
    events.push_back(eventOf(run_, HealthEventType::kLossSpike, row.iteration, row,
                             DetailWriter()
                                 .integer("iteration", row.iteration)
                                 .text("field", "lm_loss")
                                 .number("value", *row.loss)
                                 .number("baseline", baseline)
                                 .number("factor", config_.loss_spike_factor)
                                 .done()));
  }

  // The median throughput of up to kThroughputBaselineRows rows before row `end`; NaN with fewer
  // than `window` of them.
  double throughputBaseline(size_t end) {
    scratch_.clear();
    for (size_t j = end > kThroughputBaselineRows ? end - kThroughputBaselineRows : 0; j < end;
         ++j) {
      if (auto value = throughputValue(rows_[j], throughput_)) scratch_.push_back(*value);
    }
    if (scratch_.size() < window_) return std::numeric_limits<double>::quiet_NaN();
    return median(scratch_);
  }

  bool below(size_t i, double baseline) const {
    const auto value = throughputValue(rows_[i], throughput_);
    return value && *value < (1 - config_.throughput_drop) * baseline;
  }

  struct OpenDrop {
    int64_t occurrence = 0;
    double baseline = 0;
  };

  // The drop still open where the scan's first stretch begins (at row `start`): the latest one
  // recorded before it whose recovery, if recorded, the scan meets again.
  std::optional<OpenDrop> openDropBefore(size_t start) const {
    const int64_t from = rows_[start].iteration;
    const HealthEvent* latest = nullptr;
    for (const HealthEvent& event : recorded_) {
      if (event.run_serial == run_.serial && event.type == HealthEventType::kThroughputDrop &&
          event.occurrence < from && (latest == nullptr || event.occurrence > latest->occurrence)) {
        latest = &event;
      }
    }
    if (latest == nullptr) return std::nullopt;
    if (const HealthEvent* recovered = findRecorded(
            recorded_, run_.serial, HealthEventType::kThroughputRecovered, latest->occurrence)) {
      if (detailNumber(*recovered, "iteration").value_or(0) < static_cast<double>(from)) {
        return std::nullopt;
      }
    }
    const std::optional<double> baseline = detailNumber(*latest, "baseline");
    if (!baseline) return std::nullopt;
    return OpenDrop{latest->occurrence, *baseline};
  }

  // ThroughputDrop at the `consecutive`-th row of a stretch below the baseline of the rows before
  // it (the row before the stretch is not below); while a drop is open, ThroughputRecovered at
  // the `consecutive`-th row of a stretch back at or above the drop's own baseline. One drop is
  // open at a time; a drop already recorded in a stretch is followed, not found again.
  void throughput(std::vector<HealthEvent>& events, size_t first) {
    const size_t first_end = std::max(first, consecutive_ - 1);
    if (first_end >= rows_.size()) return;
    std::optional<OpenDrop> open = openDropBefore(first_end + 1 - consecutive_);
    for (size_t i = first_end; i < rows_.size(); ++i) {
      const size_t start = i + 1 - consecutive_;
      if (open) {
        if (rows_[start].iteration <= open->occurrence) continue;
        const double floor = (1 - config_.throughput_drop) * open->baseline;
        bool all = true;
        for (size_t j = start; j <= i && all; ++j) {
          const auto value = throughputValue(rows_[j], throughput_);
          all = value && *value >= floor;
        }
        if (!all) continue;
        // Keyed by the drop: the first replica to see a recovered stretch records it.
        if (findRecorded(recorded_, run_.serial, HealthEventType::kThroughputRecovered,
                         open->occurrence) == nullptr) {
          const RowFigures& row = rows_[start];
          events.push_back(eventOf(run_, HealthEventType::kThroughputRecovered, open->occurrence,
                                   row,
                                   DetailWriter()
                                       .integer("iteration", row.iteration)
                                       .text("field", throughputName(throughput_))
                                       .number("value", *throughputValue(row, throughput_))
                                       .number("baseline", open->baseline)
                                       .done()));
        }
        open.reset();
        continue;
      }
      if (!judgeable(start, window_)) continue;
      const double baseline = throughputBaseline(start);
      if (std::isnan(baseline) || (start > 0 && below(start - 1, baseline))) continue;
      bool all = true;
      for (size_t j = start; j <= i && all; ++j) all = below(j, baseline);
      if (!all) continue;
      if (const HealthEvent* known = recordedWithin(HealthEventType::kThroughputDrop, start,
                                                    [&](size_t j) { return below(j, baseline); })) {
        open = OpenDrop{known->occurrence, detailNumber(*known, "baseline").value_or(baseline)};
        continue;
      }
      scratch_.clear();
      for (size_t j = start; j <= i; ++j)
        scratch_.push_back(*throughputValue(rows_[j], throughput_));
      const RowFigures& row = rows_[start];
      events.push_back(eventOf(run_, HealthEventType::kThroughputDrop, row.iteration, row,
                               DetailWriter()
                                   .integer("iteration", row.iteration)
                                   .text("field", throughputName(throughput_))
                                   .number("value", median(scratch_))
                                   .number("baseline", baseline)
                                   .integer("consecutive", config_.consecutive)
                                   .done()));
      open = OpenDrop{row.iteration, baseline};
    }
  }

  const config::TrainingAnomalyConfig& config_;
  const storage::RunKey& run_;
  std::span<const RowFigures> rows_;
  const bool from_run_start_;
  std::span<const HealthEvent> recorded_;
  const size_t window_;
  const size_t consecutive_;
  const Throughput throughput_;
  std::vector<double> scratch_;
};

// Seconds of `iterations` iterations at `step_ms` each.
double workSeconds(int64_t iterations, std::optional<double> step_ms) {
  if (!step_ms || !std::isfinite(*step_ms) || *step_ms <= 0 || iterations <= 0) return 0;
  return static_cast<double>(iterations) * *step_ms / 1000;
}

using common::microsToSeconds;

}  // namespace

RowFigures RowReader::read(const storage::ProgressRow& row) {
  RowFigures figures = read(row.iteration, row.time_us, row.performance_json);
  figures.pod_uid = row.pod_uid;
  return figures;
}

RowFigures RowReader::read(int64_t iteration, int64_t time_us, std::string_view performance_json) {
  RowFigures figures{.iteration = iteration, .time_us = time_us};
  simdjson::dom::element document;
  if (parser_.parse(performance_json.data(), performance_json.size()).get(document) !=
      simdjson::SUCCESS) {
    return figures;
  }
  figures.loss = numberAt(document, "lm_loss");
  figures.tflops = numberAt(document, "tflops");
  figures.tokens_per_gpu = numberAt(document, "tokens_per_gpu");
  figures.step_ms = numberAt(document, "elapsed_time_per_iteration_ms");
  figures.nan_iterations = numberAt(document, "nan_iterations_number").value_or(0);
  figures.skipped_iterations = numberAt(document, "skipped_iterations_number").value_or(0);
  return figures;
}

std::optional<StallVerdict> findStall(const config::TrainingStallConfig& config,
                                      std::span<const RowFigures> rows,
                                      const storage::CheckpointActivity& checkpoints,
                                      int64_t now_us) {
  if (rows.size() < 2) return std::nullopt;
  std::vector<double> intervals;
  intervals.reserve(rows.size() - 1);
  for (size_t i = 1; i < rows.size(); ++i) {
    intervals.push_back(
        static_cast<double>(std::max<int64_t>(0, rows[i].time_us - rows[i - 1].time_us)));
  }
  const int64_t last_row_us = rows.back().time_us;
  // A save or load that ended after the last row is progress too: the next iteration follows it.
  StallVerdict verdict{
      .last_iteration = rows.back().iteration,
      .last_progress_us = std::max(last_row_us, checkpoints.last_end_us.value_or(0))};
  verdict.median_interval_us = static_cast<int64_t>(median(intervals));
  verdict.threshold_us = std::max(
      static_cast<int64_t>(config.factor * static_cast<double>(verdict.median_interval_us)),
      common::micros(config.minimum));
  verdict.stalled_at_us = verdict.last_progress_us + verdict.threshold_us;
  // A save or load that began after the last row holds the stall off, for the grace.
  if (checkpoints.in_progress_since_us && *checkpoints.in_progress_since_us >= last_row_us) {
    verdict.checkpoint_in_progress = true;
    verdict.stalled_at_us =
        std::max(verdict.stalled_at_us,
                 *checkpoints.in_progress_since_us + common::micros(config.checkpoint_grace));
  }
  if (now_us <= verdict.stalled_at_us) return std::nullopt;
  return verdict;
}

storage::RunState stateOf(const storage::HealthRun& run, std::span<const HealthEvent> recorded) {
  if (run.ended_us) return storage::RunState::kEnded;
  if (run.superseded_us) return storage::RunState::kSuperseded;
  if (run.gone_us) return storage::RunState::kGone;
  const bool stalled = !openEvents(recorded, run.key.serial, HealthEventType::kTrainingStalled,
                                   HealthEventType::kTrainingResumed)
                            .empty();
  return stalled ? storage::RunState::kStalled : storage::RunState::kRunning;
}

std::vector<HealthEvent> stallEvents(const storage::HealthRun& run,
                                     const std::optional<StallVerdict>& verdict,
                                     std::span<const RowFigures> rows,
                                     std::span<const HealthEvent> recorded, int64_t now_us) {
  std::vector<HealthEvent> events;
  for (const HealthEvent* stall :
       openEvents(recorded, run.key.serial, HealthEventType::kTrainingStalled,
                  HealthEventType::kTrainingResumed)) {
    const auto after = std::find_if(rows.begin(), rows.end(), [&](const RowFigures& row) {
      return row.iteration > stall->occurrence;
    });
    if (after == rows.end()) continue;
    const int64_t last_progress_us =
        static_cast<int64_t>(detailNumber(*stall, "last_progress_us").value_or(0));
    events.push_back(
        eventOf(run.key, HealthEventType::kTrainingResumed, stall->occurrence, *after,
                DetailWriter()
                    .integer("iteration", after->iteration)
                    .integer("stalled_iteration", stall->occurrence)
                    .number("stalled_seconds", microsToSeconds(after->time_us - last_progress_us))
                    .done()));
  }
  if (verdict && findRecorded(recorded, run.key.serial, HealthEventType::kTrainingStalled,
                              verdict->last_iteration) == nullptr) {
    HealthEvent stalled{
        .workload_uid = run.key.workload_uid,
        .run_serial = run.key.serial,
        .type = HealthEventType::kTrainingStalled,
        .occurrence = verdict->last_iteration,
        .time_us = verdict->stalled_at_us,
        .pod_uid = rows.empty() ? std::string() : rows.back().pod_uid,
        .detail_json =
            DetailWriter()
                .integer("iteration", verdict->last_iteration)
                .integer("last_progress_us", verdict->last_progress_us)
                .number("waited_seconds", microsToSeconds(now_us - verdict->last_progress_us))
                .number("threshold_seconds", microsToSeconds(verdict->threshold_us))
                .number("median_interval_seconds", microsToSeconds(verdict->median_interval_us))
                .boolean("checkpoint_in_progress", verdict->checkpoint_in_progress)
                .text("nearest_workload_uid", run.nearest_workload_uid)
                .done()};
    events.push_back(std::move(stalled));
  }
  return events;
}

std::vector<HealthEvent> findAnomalies(const config::TrainingAnomalyConfig& config,
                                       const storage::RunKey& run, std::span<const RowFigures> rows,
                                       size_t first, bool from_run_start,
                                       std::span<const HealthEvent> recorded) {
  return AnomalyFinder(config, run, rows, from_run_start, recorded).find(first);
}

std::optional<HealthEvent> findRewind(const storage::RunKey& run, const RowFigures& first_row,
                                      int previous_serial, int64_t previous_last_iteration) {
  if (first_row.iteration > previous_last_iteration) return std::nullopt;
  return eventOf(
      run, HealthEventType::kIterationRewind, previous_serial, first_row,
      DetailWriter()
          .integer("iteration", first_row.iteration)
          .integer("previous_run", previous_serial)
          .integer("previous_last_iteration", previous_last_iteration)
          .integer("redone_iterations", previous_last_iteration - first_row.iteration + 1)
          .done());
}

int64_t eventIteration(const HealthEvent& event) {
  const std::optional<double> iteration = detailNumber(event, "iteration");
  if (!iteration || !std::isfinite(*iteration)) return event.occurrence;
  return static_cast<int64_t>(*iteration);
}

void GoodputCalculator::add(int serial, int64_t iteration, int64_t time_us,
                            std::optional<double> step_ms, std::span<const HealthEvent> recorded) {
  if (runs_.empty() || runs_.back().serial != serial) {
    if (!runs_.empty()) frontier_ = std::max(frontier_, runs_.back().last_iteration);
    runs_.push_back({.serial = serial,
                     .frontier = frontier_,
                     .first_iteration = iteration,
                     .first_time_us = time_us,
                     .first_step_ms = step_ms,
                     .last_iteration = iteration,
                     .last_time_us = time_us});
    return;
  }
  RunRows& run = runs_.back();
  if (iteration <= run.last_iteration) return;  // rows come in iteration order; a repeat adds none
  const int64_t iterations = iteration - run.last_iteration;
  if (run.second_delta == 0) run.second_delta = iterations;
  const double interval = std::max(0.0, microsToSeconds(time_us - run.last_time_us));
  // A row's work is at most the time since the row before: a step time averaged over the
  // logging interval can exceed it.
  double work = std::min(workSeconds(iterations, step_ms), interval);
  if (const HealthEvent* stall =
          findRecorded(recorded, serial, HealthEventType::kTrainingStalled, run.last_iteration)) {
    // The row that ended a stall: a step timed across the hang would hide it, so its work is at
    // most the run's usual interval and the rest of the wait is the stall's.
    work = std::min(work, detailNumber(*stall, "median_interval_seconds").value_or(work));
    run.resumed_stall_seconds += interval - work;
  }
  const int64_t redone = std::clamp<int64_t>(frontier_ - run.last_iteration, 0, iterations);
  const double redone_work = work * static_cast<double>(redone) / static_cast<double>(iterations);
  run.redone_seconds += redone_work;
  run.productive_seconds += work - redone_work;
  run.redone_iterations += redone;
  run.counted_iterations += iterations - redone;
  run.last_iteration = iteration;
  run.last_time_us = time_us;
}

Goodput GoodputCalculator::finish(std::span<const storage::RunPhase> runs,
                                  std::span<const storage::CompletedSave> saves,
                                  std::span<const HealthEvent> recorded, int64_t now_us) const {
  Goodput goodput;
  goodput.runs = static_cast<int>(runs.size());
  if (runs.empty()) return goodput;
  goodput.start_us = runs.front().started_us;
  goodput.end_us = goodput.start_us;
  for (const storage::RunPhase& run : runs) {
    if (run.state == storage::RunState::kEnded) {
      goodput.end_us = std::max(goodput.end_us, run.since_us);
    }
  }
  std::optional<int64_t> previous_end_us;  // of the previous run with rows: progress or stall
  for (const RunRows& rows : runs_) {
    const auto summary = std::find_if(runs.begin(), runs.end(),
                                      [&](const auto& run) { return run.serial == rows.serial; });
    const bool known = summary != runs.end();
    const int64_t started_us = known ? summary->started_us : rows.first_time_us;

    // The first row covers as many iterations as the second (one without a second), at most the
    // time since the run started.
    const int64_t first_iterations =
        std::max<int64_t>(1, std::min(rows.second_delta > 0 ? rows.second_delta : 1,
                                      std::max<int64_t>(1, rows.first_iteration)));
    const double first_work =
        std::min(workSeconds(first_iterations, rows.first_step_ms),
                 std::max(0.0, microsToSeconds(rows.first_time_us - started_us)));
    const int64_t first_redone = std::clamp<int64_t>(
        rows.frontier - (rows.first_iteration - first_iterations), 0, first_iterations);
    const double first_redone_work =
        first_work * static_cast<double>(first_redone) / static_cast<double>(first_iterations);
    goodput.productive_seconds += rows.productive_seconds + first_work - first_redone_work;
    goodput.redone_seconds += rows.redone_seconds + first_redone_work;
    goodput.counted_iterations += rows.counted_iterations + first_iterations - first_redone;
    goodput.redone_iterations += rows.redone_iterations + first_redone;
    goodput.stalls_seconds += rows.resumed_stall_seconds;

    // A stall without its TrainingResumed lasts until the run ended, was superseded or went, or
    // until now.
    // A save after the run's last row is the run's too: neither a restart's time nor a stall's.
    int64_t run_end_us = rows.last_time_us;
    for (const storage::CompletedSave& save : saves) {
      if (save.serial == rows.serial) run_end_us = std::max(run_end_us, save.end_us);
    }
    for (const HealthEvent& stall : recorded) {
      // A stall with rows after it was ended by the first of them (add() took its wait), whether
      // its TrainingResumed is recorded yet or not.
      if (stall.run_serial != rows.serial || stall.type != HealthEventType::kTrainingStalled ||
          stall.occurrence < rows.last_iteration ||
          findRecorded(recorded, rows.serial, HealthEventType::kTrainingResumed,
                       stall.occurrence) != nullptr) {
        continue;
      }
      const auto progress_us =
          static_cast<int64_t>(detailNumber(stall, "last_progress_us").value_or(0));
      const bool still_held = !known || summary->state == storage::RunState::kRunning ||
                              summary->state == storage::RunState::kStalled;
      const int64_t until_us = still_held ? now_us : summary->since_us;
      if (progress_us <= 0 || until_us <= progress_us) continue;
      goodput.stalls_seconds += microsToSeconds(until_us - progress_us);
      run_end_us = std::max(run_end_us, until_us);
    }
    goodput.end_us = std::max(goodput.end_us, run_end_us);
    // A restart: from the previous run's end to when this run's first counted work began.
    const int64_t begin_us = rows.first_time_us - common::secondsToMicros(first_work);
    if (previous_end_us) {
      goodput.restarts_seconds += std::max(0.0, microsToSeconds(begin_us - *previous_end_us));
    }
    previous_end_us = run_end_us;
  }
  for (const storage::CompletedSave& save : saves) {
    if (save.end_us >= goodput.start_us && save.end_us <= goodput.end_us) {
      goodput.checkpoints_seconds += static_cast<double>(save.duration_ms) / 1000;
    }
  }
  goodput.wall_seconds = std::max(0.0, microsToSeconds(goodput.end_us - goodput.start_us));
  goodput.other_seconds = std::max(0.0, goodput.wall_seconds - goodput.productive_seconds -
                                            goodput.redone_seconds - goodput.stalls_seconds -
                                            goodput.checkpoints_seconds - goodput.restarts_seconds);
  goodput.ratio = goodput.wall_seconds > 0 ? goodput.productive_seconds / goodput.wall_seconds : 0;
  return goodput;
}

}  // namespace tp::training
