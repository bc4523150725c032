#include "training/health_monitor.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <tuple>

#include "common/status.h"
#include "common/strings.h"
#include "prompb/lane.h"
#include "prompb/series.h"
#include "spdlog/spdlog.h"
#include "storage/training_queries.h"

namespace tp::training {
namespace {

using storage::HealthEvent;
using storage::HealthEventType;
using storage::RunState;

using common::micros;

std::string runId(const storage::RunKey& key) {
  return common::concat(key.workload_uid, "/", key.serial);
}

size_t indexOf(HealthEventType type) {
  return static_cast<size_t>(std::find(std::begin(storage::kHealthEventTypes),
                                       std::end(storage::kHealthEventTypes), type) -
                             std::begin(storage::kHealthEventTypes));
}

size_t indexOf(RunState state) {
  return static_cast<size_t>(
      std::find(std::begin(storage::kRunStates), std::end(storage::kRunStates), state) -
      std::begin(storage::kRunStates));
}

bool active(RunState state) { return state == RunState::kRunning || state == RunState::kStalled; }

// Labels with values, in the order given (sorted by name, as remote write wants them).
std::vector<prompb::LabelPair> present(std::initializer_list<prompb::LabelPair> labels) {
  std::vector<prompb::LabelPair> kept;
  for (const prompb::LabelPair& label : labels) {
    if (!label.value.empty()) kept.push_back(label);
  }
  return kept;
}

// Folds the workload's rows after `after`, in (serial, iteration) order, each into the
// calculator `calculator_for` names for it.
absl::Status foldRows(
    storage::Database& database, const std::string& workload_uid,
    std::optional<std::pair<int, int64_t>> after, std::span<const HealthEvent> recorded,
    const std::function<GoodputCalculator&(const storage::PerformanceRecord&)>& calculator_for) {
  storage::PerformanceQuery query{.workload_uid = workload_uid};
  query.after = after;
  RowReader reader;
  return storage::readPerformance(database, query, [&](const storage::PerformanceRecord& record) {
    const RowFigures figures =
        reader.read(record.iteration, record.time_us, record.performance_json);
    calculator_for(record).add(record.serial, record.iteration, record.time_us, figures.step_ms,
                               recorded);
    return true;
  });
}

// The workload's runs and completed saves, which finish a goodput.
absl::StatusOr<Goodput> finishGoodput(storage::Database& database, const std::string& workload_uid,
                                      const GoodputCalculator& calculator,
                                      std::span<const HealthEvent> recorded, int64_t now_us) {
  auto runs = storage::listRunPhases(database, workload_uid);
  if (!runs.ok()) return runs.status();
  auto saves = storage::readCompletedSaves(database, workload_uid);
  if (!saves.ok()) return saves.status();
  return calculator.finish(*runs, *saves, recorded, now_us);
}

}  // namespace

absl::StatusOr<std::optional<Goodput>> workloadGoodput(storage::Database& database,
                                                       const std::string& workload_uid,
                                                       int64_t now_us) {
  auto recorded = storage::readHealthEvents(database, workload_uid);
  if (!recorded.ok()) return recorded.status();
  GoodputCalculator calculator;
  TP_RETURN_IF_ERROR(foldRows(database, workload_uid, std::nullopt, *recorded,
                              [&](const auto&) -> GoodputCalculator& { return calculator; }));
  auto goodput = finishGoodput(database, workload_uid, calculator, *recorded, now_us);
  if (!goodput.ok()) return goodput.status();
  if (goodput->runs == 0) return std::nullopt;
  return *goodput;
}

HealthMonitor::HealthMonitor(storage::Database& database, const config::TrainingConfig& config,
                             forward::BatchSink* sink, std::string replica,
                             telemetry::TrainingHealthMetrics metrics, const common::Clock& clock)
    : database_(database),
      stall_(config.stall),
      anomaly_(config.anomaly),
      sink_(sink),
      replica_(std::move(replica)),
      metrics_(std::move(metrics)),
      clock_(clock) {}

HealthMonitor::~HealthMonitor() { stop(); }

void HealthMonitor::start() {
  thread_ = std::thread([this] { run(); });
}

void HealthMonitor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
  }
  wakeup_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HealthMonitor::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_.load()) {
    lock.unlock();
    if (absl::Status status = check(); !status.ok() && !absl::IsCancelled(status)) {
      failure_log_.log(spdlog::level::warn, "training health: check failed: {}",
                       common::message(status));
    }
    lock.lock();
    clock_.waitFor(lock, wakeup_, stall_.check_interval, [this] { return stopping_.load(); });
  }
}

void HealthMonitor::setThresholds(const config::TrainingStallConfig& stall,
                                  const config::TrainingAnomalyConfig& anomaly) {
  std::lock_guard lock(thresholds_mutex_);
  next_thresholds_.emplace(stall, anomaly);
}

absl::Status HealthMonitor::check() {
  {
    std::lock_guard lock(thresholds_mutex_);
    if (next_thresholds_) {
      std::tie(stall_, anomaly_) = *next_thresholds_;
      next_thresholds_.reset();
    }
  }
  const auto started = clock_.now();
  const int64_t now_us = common::microsSinceEpoch(clock_.wallNow());
  absl::Status status = [&]() -> absl::Status {
    const int64_t interval_us = micros(stall_.check_interval);
    auto lease =
        storage::holdLease(database_, kHealthSeriesLease, replica_, now_us, 3 * interval_us);
    if (!lease.ok()) return lease.status();
    const bool send_series = sink_ != nullptr && *lease;
    metrics_.series_lease->Set(send_series ? 1 : 0);

    auto runs =
        storage::listHealthRuns(database_, now_us - micros(kEndedRunsChecked), kMaxCheckedRuns);
    if (!runs.ok()) return runs.status();
    if (runs->size() > kMaxCheckedRuns) {
      metrics_.runs_not_checked->Increment(static_cast<double>(runs->size() - kMaxCheckedRuns));
      runs->resize(kMaxCheckedRuns);
    }

    // The series this check sends as the lease holder, and the markers of the events it recorded.
    Outgoing out, markers;
    const size_t lanes = sink_ != nullptr ? std::max<size_t>(1, sink_->lanes()) : 1;
    for (Outgoing* outgoing : {&out, &markers}) {
      outgoing->lanes.resize(lanes);
      outgoing->samples.assign(lanes, 0);
    }
    // Samples of the series sent every check sit on the check-interval grid, so that a replica
    // taking the lease over continues the series without overlapping it.
    const int64_t grid_ms = now_us / interval_us * interval_us / 1000;

    std::vector<size_t> states(std::size(storage::kRunStates), 0);
    absl::flat_hash_map<std::string, RunMemory> seen_runs;
    absl::flat_hash_map<std::string, WorkloadGoodput> seen_goodput;
    for (size_t begin = 0; begin < runs->size();) {
      // Stopping ends a check between workloads: what was recorded stays so.
      if (stopping_.load()) return absl::CancelledError("stopping");
      // The runs of one workload are adjacent (ordered by workload and serial).
      const std::string& workload_uid = (*runs)[begin].key.workload_uid;
      size_t end = begin;
      while (end < runs->size() && (*runs)[end].key.workload_uid == workload_uid) ++end;
      const std::span<const storage::HealthRun> workload_runs(runs->data() + begin, end - begin);
      auto recorded = storage::readHealthEvents(database_, workload_uid);
      if (!recorded.ok()) return recorded.status();

      std::vector<HealthEvent> found;
      absl::flat_hash_map<int, int64_t> last_progress_us;
      for (const storage::HealthRun& run : workload_runs) {
        std::optional<int64_t> last_progress;
        TP_RETURN_IF_ERROR(checkRun(run, active(stateOf(run, *recorded)), *recorded, now_us, found,
                                    last_progress));
        if (last_progress) last_progress_us[run.key.serial] = *last_progress;
      }
      TP_RETURN_IF_ERROR(record(found, workload_runs, markers));
      // What this check found is recorded now (by this replica or another): states and goodput
      // count it.
      for (HealthEvent& event : found) recorded->push_back(std::move(event));

      bool workload_active = false;
      for (const storage::HealthRun& run : workload_runs) {
        const std::string id = runId(run.key);
        if (auto memory = runs_.find(id); memory != runs_.end()) seen_runs[id] = memory->second;
        const RunState state = stateOf(run, *recorded);
        workload_active = workload_active || active(state);
        ++states[indexOf(state)];
        if (!send_series) continue;
        const std::string serial = std::to_string(run.key.serial);
        const auto labels = present({{"namespace", run.namespace_name},
                                     {"run", serial},
                                     {"workload_name", run.workload_name},
                                     {"workload_uid", run.key.workload_uid}});
        if (active(state)) {
          addSeries(out, "workload_training_stalled", labels, grid_ms,
                    state == RunState::kStalled ? 1 : 0);
          if (auto progress = last_progress_us.find(run.key.serial);
              progress != last_progress_us.end()) {
            addSeries(out, "workload_training_seconds_since_progress", labels, grid_ms,
                      common::microsToSeconds(std::max<int64_t>(0, now_us - progress->second)));
          }
        }
        for (RunState each : storage::kRunStates) {
          const auto with_state = present({{"namespace", run.namespace_name},
                                           {"run", serial},
                                           {"state", storage::nameOf(each)},
                                           {"workload_name", run.workload_name},
                                           {"workload_uid", run.key.workload_uid}});
          addSeries(out, "workload_training_state", with_state, grid_ms, each == state ? 1 : 0);
        }
      }

      if (workload_active && send_series) {
        auto goodput = goodputOf(workload_uid, *recorded, now_us);
        if (!goodput.ok()) return goodput.status();
        seen_goodput[workload_uid] = std::move(goodput_[workload_uid]);
        const storage::HealthRun& named = workload_runs.front();
        const auto labels = present({{"namespace", named.namespace_name},
                                     {"workload_name", named.workload_name},
                                     {"workload_uid", workload_uid}});
        addSeries(out, "workload_training_goodput_ratio", labels, grid_ms, goodput->ratio);
        const std::pair<std::string_view, double> lost[] = {
            {"restarts", goodput->restarts_seconds},
            {"redone", goodput->redone_seconds},
            {"stalls", goodput->stalls_seconds},
            {"checkpoints", goodput->checkpoints_seconds},
            {"other", goodput->other_seconds}};
        for (const auto& [reason, seconds] : lost) {
          const auto with_reason = present({{"namespace", named.namespace_name},
                                            {"reason", reason},
                                            {"workload_name", named.workload_name},
                                            {"workload_uid", workload_uid}});
          addSeries(out, "workload_training_lost_seconds", with_reason, grid_ms, seconds);
        }
      }
      begin = end;
    }

    // What was judged is remembered once its events are recorded; runs no longer listed are
    // forgotten.
    runs_ = std::move(seen_runs);
    goodput_ = std::move(seen_goodput);
    for (size_t i = 0; i < states.size(); ++i) {
      metrics_.runs[i]->Set(static_cast<double>(states[i]));
    }
    submit(markers);
    if (send_series) {
      // A long check may have outlasted the lease: another replica sends from now on.
      auto renewed =
          storage::holdLease(database_, kHealthSeriesLease, replica_,
                             common::microsSinceEpoch(clock_.wallNow()), 3 * interval_us);
      if (!renewed.ok()) return renewed.status();
      metrics_.series_lease->Set(*renewed ? 1 : 0);
      if (*renewed) submit(out);
    }
    return absl::OkStatus();
  }();
  metrics_.check_duration->Observe(std::chrono::duration<double>(clock_.now() - started).count());
  if (absl::IsCancelled(status)) return status;
  if (!status.ok()) {
    metrics_.check_failures->Increment();
    // Judged rows whose events were not recorded are judged again.
    runs_.clear();
    return status;
  }
  metrics_.checks->Increment();
  return status;
}

absl::StatusOr<std::optional<int64_t>> HealthMonitor::readRows(const storage::RunKey& key,
                                                               RunMemory& memory) {
  const bool whole = memory.rows.empty();
  auto newest = storage::readNewestRows(database_, key, whole ? kRowsPerCheck : kRereadRows);
  if (!newest.ok()) return newest.status();
  std::vector<RowFigures> fetched;
  fetched.reserve(newest->size());
  for (const storage::ProgressRow& row : *newest) fetched.push_back(reader_.read(row));
  if (fetched.empty()) return std::nullopt;
  if (whole) {
    memory.from_run_start = fetched.size() < kRowsPerCheck;
    memory.rows = std::move(fetched);
    return memory.rows.front().iteration;
  }
  if (fetched.size() == kRereadRows && fetched.front().iteration > memory.rows.back().iteration) {
    // More new rows than re-read: start over from the newest kRowsPerCheck.
    memory.rows.clear();
    return readRows(key, memory);
  }
  // The rows re-read replace those they cover; the earliest of them not seen before (one another
  // replica wrote late, or a new one) is where judging starts again.
  const auto by_iteration = [](const RowFigures& a, const RowFigures& b) {
    return a.iteration < b.iteration;
  };
  const auto replaced =
      std::lower_bound(memory.rows.begin(), memory.rows.end(), fetched.front(), by_iteration);
  std::optional<int64_t> first_new;
  for (const RowFigures& row : fetched) {
    if (!std::binary_search(replaced, memory.rows.end(), row, by_iteration)) {
      first_new = row.iteration;
      break;
    }
  }
  memory.rows.erase(replaced, memory.rows.end());
  memory.rows.insert(memory.rows.end(), std::make_move_iterator(fetched.begin()),
                     std::make_move_iterator(fetched.end()));
  if (memory.rows.size() > kRowsPerCheck) {
    memory.rows.erase(
        memory.rows.begin(),
        memory.rows.begin() + static_cast<std::ptrdiff_t>(memory.rows.size() - kRowsPerCheck));
    memory.from_run_start = false;
  }
  return first_new;
}

absl::Status HealthMonitor::checkRun(const storage::HealthRun& run, bool running,
                                     const std::vector<HealthEvent>& recorded, int64_t now_us,
                                     std::vector<HealthEvent>& found,
                                     std::optional<int64_t>& last_progress_us) {
  RunMemory& memory = runs_[runId(run.key)];
  // An ended run's rows are still judged: the NaN before a crash, rows written late.
  auto first_new = readRows(run.key, memory);
  if (!first_new.ok()) return first_new.status();

  // A young run's rows are all in memory: one written late anywhere among them (not only among
  // the newest, which each check re-reads) changes their count, and the run is read again whole.
  if (memory.from_run_start && !memory.rows.empty()) {
    auto count = storage::countIterations(database_, run.key);
    if (!count.ok()) return count.status();
    if (*count != static_cast<int64_t>(memory.rows.size())) {
      memory.rows.clear();
      first_new = readRows(run.key, memory);
      if (!first_new.ok()) return first_new.status();
    }
  }
  // A young run with no rewind recorded is judged for one at every check, from its first row and
  // the previous run's last as the database has them now (the previous run's rows may be written
  // after this run's).
  std::optional<int64_t> previous_last;
  const bool rewind_recorded =
      std::any_of(recorded.begin(), recorded.end(), [&](const HealthEvent& event) {
        return event.run_serial == run.key.serial &&
               event.type == HealthEventType::kIterationRewind;
      });
  if (memory.from_run_start && run.key.serial > 1 && !rewind_recorded) {
    auto last = storage::lastIteration(database_, {run.key.workload_uid, run.key.serial - 1});
    if (!last.ok()) return last.status();
    previous_last = *last;  // nullopt until the previous run's rows are written
  }
  const std::vector<RowFigures>& rows = memory.rows;
  if (!rows.empty()) last_progress_us = rows.back().time_us;

  std::optional<StallVerdict> verdict;
  if (running) {
    auto checkpoints = storage::checkpointActivity(database_, run.key);
    if (!checkpoints.ok()) return checkpoints.status();
    verdict = findStall(stall_, rows, *checkpoints, now_us);
    // The end of a save or load after the last row is progress, as the stall rule counts it.
    if (last_progress_us && checkpoints->last_end_us) {
      last_progress_us = std::max(*last_progress_us, *checkpoints->last_end_us);
    }
  }
  // A run that ended after its iterations came back still resumed.
  for (HealthEvent& event : stallEvents(run, verdict, rows, recorded, now_us)) {
    found.push_back(std::move(event));
  }
  if (previous_last && !rows.empty()) {
    if (auto rewind = findRewind(run.key, rows.front(), run.key.serial - 1, *previous_last)) {
      found.push_back(std::move(*rewind));
    }
  }
  if (rows.empty() || !*first_new) return absl::OkStatus();

  // Rows are judged from the earliest new one, with the rows before it as their window.
  const auto first = std::find_if(rows.begin(), rows.end(), [&](const RowFigures& row) {
    return row.iteration >= **first_new;
  });
  for (HealthEvent& event :
       findAnomalies(anomaly_, run.key, rows, static_cast<size_t>(first - rows.begin()),
                     memory.from_run_start, recorded)) {
    found.push_back(std::move(event));
  }
  return absl::OkStatus();
}

absl::StatusOr<Goodput> HealthMonitor::goodputOf(const std::string& workload_uid,
                                                 const std::vector<HealthEvent>& recorded,
                                                 int64_t now_us) {
  WorkloadGoodput& kept = goodput_[workload_uid];
  std::optional<GoodputCalculator> latest;
  const int64_t settled_us = now_us - micros(kGoodputSettle);
  TP_RETURN_IF_ERROR(foldRows(database_, workload_uid, kept.cursor, recorded,
                              [&](const storage::PerformanceRecord& record) -> GoodputCalculator& {
                                // Rows come in (serial, iteration) order: from the first one too
                                // new to settle on, the rest are folded into a copy only.
                                if (!latest && record.time_us > settled_us) latest = kept.settled;
                                if (latest) return *latest;
                                kept.cursor.emplace(record.serial, record.iteration);
                                return kept.settled;
                              }));
  return finishGoodput(database_, workload_uid, latest ? *latest : kept.settled, recorded, now_us);
}

absl::Status HealthMonitor::record(const std::vector<HealthEvent>& found,
                                   std::span<const storage::HealthRun> runs, Outgoing& out) {
  if (found.empty()) return absl::OkStatus();
  auto inserted = storage::insertHealthEvents(database_, found);
  if (!inserted.ok()) return inserted.status();
  for (size_t i = 0; i < found.size(); ++i) {
    if (!(*inserted)[i]) continue;
    const HealthEvent& event = found[i];
    metrics_.events[indexOf(event.type)]->Increment();
    spdlog::info("training health: {} of workload {} run {} at iteration {}: {}",
                 storage::nameOf(event.type), event.workload_uid, event.run_serial,
                 eventIteration(event), event.detail_json);
    if (sink_ == nullptr) continue;
    // Whoever recorded the event marks it in the series, once.
    const storage::HealthRun& named = runs.front();
    const std::string serial = std::to_string(event.run_serial);
    const auto labels = present({{"namespace", named.namespace_name},
                                 {"run", serial},
                                 {"type", storage::nameOf(event.type)},
                                 {"workload_name", named.workload_name},
                                 {"workload_uid", event.workload_uid}});
    addSeries(out, "workload_training_event", labels, event.time_us / 1000, 1);
  }
  return absl::OkStatus();
}

void HealthMonitor::addSeries(Outgoing& out, std::string_view name,
                              std::span<const prompb::LabelPair> labels, int64_t timestamp_ms,
                              double value) {
  std::vector<prompb::LabelPair> all;
  all.reserve(labels.size() + 1);
  all.push_back({"__name__", name});
  all.insert(all.end(), labels.begin(), labels.end());
  label_scratch_.clear();
  size_t size = 0;
  for (const prompb::LabelPair& label : all)
    size += prompb::labelFieldSize(label.name, label.value);
  prompb::WireWriter writer(label_scratch_, size);
  for (const prompb::LabelPair& label : all) prompb::writeLabel(writer, label.name, label.value);
  const size_t lane = prompb::laneOfSeries(label_scratch_.view(), out.lanes.size());
  const prompb::SamplePoint sample{timestamp_ms, value};
  prompb::appendTimeseries(out.lanes[lane], all, std::span(&sample, 1));
  ++out.samples[lane];
}

void HealthMonitor::submit(Outgoing& out) {
  if (sink_ == nullptr) return;
  std::vector<forward::LanePart> parts;
  size_t samples = 0;
  for (size_t lane = 0; lane < out.lanes.size(); ++lane) {
    parts.push_back({out.lanes[lane].view(), out.samples[lane]});
    samples += out.samples[lane];
  }
  if (samples == 0) return;
  if (absl::Status status = sink_->submit(parts); !status.ok()) {
    // The next check sends the series again; an event's marker is lost (its row is not).
    metrics_.submit_failures->Increment();
    refused_log_.log(spdlog::level::warn, "training health: the forwarder refused {} samples: {}",
                     samples, common::message(status));
    return;
  }
  metrics_.samples->Increment(static_cast<double>(samples));
}

}  // namespace tp::training
