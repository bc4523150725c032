#include "training/training_writer.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <span>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/backoff.h"
#include "common/json_writer.h"
#include "common/status.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"
#include "training/item_codec.h"

namespace tp::training {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMinBackoff{100};
// The dead-letter file stops growing here; rows refused beyond it are still counted and logged.
constexpr uint64_t kDeadLetterMaxBytes = 256ull << 20;

// Inserts `rows` in one statement, timed. When the database refuses the values of some rows
// (InvalidArgument), the rows are split in halves until each refused row stands alone; those
// go to `refuse` and the others are written. Returns the rows inserted, or the first other error
// (the database is away or misconfigured: the batch is tried again; every insert is guarded, so
// the rows written before the error are not written twice).
template <typename Row, typename Insert, typename Refuse>
absl::StatusOr<size_t> insertSettingAsideRefused(std::span<const Row> rows, const Insert& insert,
                                                 const Refuse& refuse,
                                                 const telemetry::TrainingWriteMetrics& metrics,
                                                 prometheus::Counter* failed,
                                                 const common::Clock& clock) {
  const auto began = clock.now();
  absl::StatusOr<size_t> inserted = insert(rows);
  metrics.write_duration->Observe(std::chrono::duration<double>(clock.now() - began).count());
  if (inserted.ok()) return inserted;
  failed->Increment(static_cast<double>(rows.size()));
  if (!absl::IsInvalidArgument(inserted.status())) return inserted.status();
  if (rows.size() == 1) {
    refuse(rows.front(), inserted.status());
    return 0;
  }
  const size_t half = rows.size() / 2;
  absl::StatusOr<size_t> first =
      insertSettingAsideRefused(rows.first(half), insert, refuse, metrics, failed, clock);
  TP_RETURN_IF_ERROR(first.status());
  absl::StatusOr<size_t> second =
      insertSettingAsideRefused(rows.subspan(half), insert, refuse, metrics, failed, clock);
  TP_RETURN_IF_ERROR(second.status());
  return *first + *second;
}

// The same, in statements of at most `batch_rows` rows (a journal record is written whole, so a
// large one takes several).
template <typename Row, typename Insert, typename Refuse>
absl::StatusOr<size_t> insertInChunks(const std::vector<Row>& rows, size_t batch_rows,
                                      const Insert& insert, const Refuse& refuse,
                                      const telemetry::TrainingWriteMetrics& metrics,
                                      prometheus::Counter* failed, const common::Clock& clock) {
  size_t inserted_total = 0;
  for (size_t first = 0; first < rows.size(); first += batch_rows) {
    const std::span<const Row> chunk(rows.data() + first,
                                     std::min(batch_rows, rows.size() - first));
    absl::StatusOr<size_t> inserted =
        insertSettingAsideRefused(chunk, insert, refuse, metrics, failed, clock);
    if (!inserted.ok()) return inserted.status();
    inserted_total += *inserted;
  }
  return inserted_total;
}

std::string eventJson(const storage::RunEvent& event) {
  rapidjson::StringBuffer buffer;
  common::JsonWriter json(buffer);
  json.StartObject();
  json.Key("workload_uid");
  common::writeString(json, event.workload_uid);
  json.Key("nearest_workload_uid");
  common::writeString(json, event.nearest_workload_uid);
  json.Key("pod_uid");
  common::writeString(json, event.pod_uid);
  json.Key("run_serial");
  json.Int(event.run_serial);
  json.Key("time_us");
  json.Int64(event.time_us);
  json.EndObject();
  return buffer.GetString();
}

std::string performanceJson(const storage::PerformanceRow& row) {
  rapidjson::StringBuffer buffer;
  common::JsonWriter json(buffer);
  json.StartObject();
  json.Key("workload_uid");
  common::writeString(json, row.workload_uid);
  json.Key("pod_uid");
  common::writeString(json, row.pod_uid);
  json.Key("serial");
  json.Int(row.serial);
  json.Key("iteration");
  json.Int64(row.iteration);
  json.Key("time_us");
  json.Int64(row.time_us);
  json.Key("performance");
  json.RawValue(row.performance_json.data(), row.performance_json.size(), rapidjson::kObjectType);
  json.EndObject();
  return buffer.GetString();
}

std::string checkpointJson(const storage::CheckpointLine& line) {
  rapidjson::StringBuffer buffer;
  common::JsonWriter json(buffer);
  json.StartObject();
  json.Key("workload_uid");
  common::writeString(json, line.workload_uid);
  json.Key("pod_uid");
  common::writeString(json, line.pod_uid);
  json.Key("serial");
  json.Int(line.serial);
  json.Key("iteration");
  json.Int64(line.iteration);
  json.Key("path");
  common::writeString(json, line.path);
  json.Key("operation");
  json.String(line.operation == storage::CheckpointOperation::kSave ? "save" : "load");
  json.Key("time_us");
  json.Int64(line.time_us);
  if (line.duration_ms) {
    json.Key("duration_ms");
    json.Int64(*line.duration_ms);
  }
  json.EndObject();
  return buffer.GetString();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrainingWriter>> TrainingWriter::create(
    storage::Database& database, const config::TrainingConfig& config,
    const queue::DiskQueueOptions& journal, std::filesystem::path dead_letter_file,
    telemetry::TrainingWriteMetrics metrics, SeriesOutput series, const common::Clock& clock) {
  queue::QueueRecovery recovery;
  auto opened = queue::DiskQueue::open(journal, &recovery, clock);
  if (!opened.ok()) return opened.status();
  if (recovery.records > 0 || recovery.corrupt_records > 0 || recovery.torn_bytes > 0) {
    spdlog::info(
        "training rows: resuming {} rows and events from the journal; {} corrupt records "
        "skipped, {} bytes of an interrupted write cut",
        recovery.items, recovery.corrupt_records, recovery.torn_bytes);
  }
  std::unique_ptr<TrainingWriter> writer(new TrainingWriter(
      database, config, std::move(*opened), std::move(dead_letter_file), metrics, series, clock));
  writer->reserved_ = writer->journaled_ = recovery.items;
  writer->metrics_.pending->Set(static_cast<double>(recovery.items));
  return writer;
}

TrainingWriter::TrainingWriter(storage::Database& database, const config::TrainingConfig& config,
                               std::unique_ptr<queue::DiskQueue> journal,
                               std::filesystem::path dead_letter_file,
                               telemetry::TrainingWriteMetrics metrics, SeriesOutput series,
                               const common::Clock& clock)
    : database_(database),
      config_(config),
      journal_(std::move(journal)),
      dead_letter_file_(std::move(dead_letter_file)),
      metrics_(metrics),
      clock_(clock),
      series_sink_(series.sink) {
  if (series_sink_ != nullptr) {
    series_ = std::make_unique<TrainingSeriesEncoder>(config_.series, series.metrics, clock_);
    series_lanes_.resize(series_sink_->lanes());
    series_lane_samples_.resize(series_sink_->lanes());
  }
}

TrainingWriter::~TrainingWriter() {
  if (thread_.joinable()) stop(milliseconds(0));
}

void TrainingWriter::start() {
  thread_ = std::thread([this] { run(); });
}

void TrainingWriter::stop(milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    deadline_ = clock_.now() + grace;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Status TrainingWriter::submit(const TrainingItems& items) {
  if (items.empty()) return absl::OkStatus();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return absl::UnavailableError("shutting down; retry later");
    if (reserved_ + items.size() > static_cast<uint64_t>(config_.buffer_rows)) {
      return absl::ResourceExhaustedError(
          "training row buffer full (training.bufferRows): the database is unavailable or slow; "
          "retry later");
    }
    reserved_ += items.size();
  }
  thread_local std::string encoded;
  encodeItems(items, encoded);
  absl::Status written = journal_->append(encoded, static_cast<uint32_t>(items.size()), nullptr);
  {
    std::lock_guard lock(mutex_);
    if (written.ok()) {
      journaled_ += items.size();
    } else {
      reserved_ -= items.size();
    }
    metrics_.pending->Set(static_cast<double>(journaled_));
  }
  if (written.ok()) wake_.notify_one();
  return written;
}

size_t TrainingWriter::pending() const {
  std::lock_guard lock(mutex_);
  return reserved_;
}

void TrainingWriter::readJournal(TrainingItems& batch, std::vector<queue::QueuePosition>& records,
                                 uint64_t& journal_items) {
  queue::QueuedRecord record;
  while (batch.size() < static_cast<size_t>(config_.batch_rows)) {
    if (!journal_->next(records.empty() ? nullptr : &records.back(), &record)) break;
    if (!decodeItems(record.payload, batch)) {
      metrics_.journal_corrupt_records->Increment();
      spdlog::warn("training rows: a journal record of {} items does not decode; skipped",
                   record.items);
    }
    records.push_back(record.end);
    journal_items += record.items;
  }
}

void TrainingWriter::run() {
  const uint64_t batch_rows = static_cast<uint64_t>(config_.batch_rows);
  common::Backoff backoff(kMinBackoff, std::max(kMinBackoff, config_.retry_max_backoff),
                          std::random_device{}());
  int failed_attempts = 0;  // of the batch now held
  TrainingItems batch;
  std::vector<queue::QueuePosition> records;  // the journal records the batch holds, in order
  uint64_t batch_items = 0;  // as the journal counts them, undecodable records included
  while (true) {
    {
      std::unique_lock lock(mutex_);
      // Work is new items, or a batch whose write failed and is due again.
      wake_.wait(lock, [&] { return stopping_ || journaled_ > 0; });
      if (journaled_ == 0 || (stopping_ && clock_.now() >= deadline_)) break;
      // Let a new batch fill up for at most one flush interval.
      if (!stopping_ && records.empty() && journaled_ < batch_rows) {
        clock_.waitFor(lock, wake_, config_.flush_interval,
                       [&] { return stopping_ || journaled_ >= batch_rows; });
      }
    }
    readJournal(batch, records, batch_items);
    const absl::Status status = batch.empty() ? absl::OkStatus() : write(batch);
    std::unique_lock lock(mutex_);
    if (status.ok()) {
      for (const queue::QueuePosition& end : records) {
        if (absl::Status committed = journal_->commit(end); !committed.ok()) {
          spdlog::warn("training rows: {}", common::message(committed));
        }
      }
      journaled_ -= batch_items;
      reserved_ -= batch_items;
      batch.clear();
      records.clear();
      batch_items = 0;
      failed_attempts = 0;
    } else {
      metrics_.write_errors->Increment();
      const milliseconds delay = backoff.next(++failed_attempts);
      spdlog::warn("training rows: a batch was not written, {} items kept for retry in {} ms: {}",
                   journaled_, delay.count(), common::message(status));
      // Until the retry is due; once stopping, no later than the deadline (the batch stays in
      // the journal).
      const auto due = clock_.now() + delay;
      clock_.waitUntil(lock, wake_, due, [&] { return stopping_; });
      if (stopping_) clock_.waitUntil(lock, wake_, std::min(due, deadline_), [] { return false; });
    }
    metrics_.pending->Set(static_cast<double>(journaled_));
  }
  std::lock_guard lock(mutex_);
  if (journaled_ > 0) {
    spdlog::info("training rows: {} rows and events stay in the journal for the next start",
                 journaled_);
  }
}

absl::Status TrainingWriter::write(const TrainingItems& batch) {
  completed_in_batch_ = 0;
  TP_RETURN_IF_ERROR(loadWorkloads(batch));
  TP_RETURN_IF_ERROR(writeStarts(batch.starts));
  std::vector<RowOfRun> rows;
  TP_RETURN_IF_ERROR(writePerformances(batch.performances, rows));
  TP_RETURN_IF_ERROR(writeEnds(batch.lifecycles));
  std::vector<SaveOfRun> saves;
  TP_RETURN_IF_ERROR(writeCheckpoints(batch.lifecycles, saves));
  TP_RETURN_IF_ERROR(sendSeries(rows, saves));
  // Counted once the batch is done: a batch tried again completes its operations again.
  metrics_.checkpoints_completed->Increment(static_cast<double>(completed_in_batch_));
  return absl::OkStatus();
}

absl::Status TrainingWriter::loadWorkloads(const TrainingItems& batch) {
  // Another replica may have recorded a run this one has not seen: whatever is not known here is
  // read from the database, which decides the serials.
  absl::flat_hash_set<std::string_view> unknown;
  for (const PendingStart& start : batch.starts) {
    if (!serials_.recorded(start.workload_uid, start.nearest_workload_uid)) {
      unknown.insert(start.workload_uid);
    }
  }
  for (const PendingPerformance& row : batch.performances) {
    if (!serials_.recorded(row.workload_uid, row.nearest_workload_uid)) {
      unknown.insert(row.workload_uid);
    }
  }
  for (const PendingLifecycle& event : batch.lifecycles) {
    if (!serials_.recorded(event.workload_uid, event.nearest_workload_uid)) {
      unknown.insert(event.workload_uid);
    }
  }
  return reloadRuns(unknown);
}

absl::Status TrainingWriter::reloadRuns(const absl::flat_hash_set<std::string_view>& workloads) {
  for (std::string_view workload : workloads) {
    auto runs = storage::loadRuns(database_, workload);
    if (!runs.ok()) return runs.status();
    serials_.load(workload, *runs);
  }
  return absl::OkStatus();
}

absl::Status TrainingWriter::writeStarts(const std::vector<PendingStart>& starts) {
  // Many ranks print the marker at once: one event per (workload, nearest workload).
  std::vector<storage::RunEvent> events;
  absl::flat_hash_set<std::pair<std::string_view, std::string_view>> seen;
  absl::flat_hash_map<std::string_view, int> new_runs;  // workload -> its latest serial here
  for (const PendingStart& start : starts) {
    if (serials_.recorded(start.workload_uid, start.nearest_workload_uid) ||
        !seen.emplace(start.workload_uid, start.nearest_workload_uid).second) {
      continue;
    }
    // A later new run of the same workload in this batch takes the next serial.
    int serial = serials_.serialFor(start.workload_uid, start.nearest_workload_uid);
    auto [latest, first] = new_runs.try_emplace(start.workload_uid, serial);
    if (!first) serial = latest->second = std::max(serial, latest->second + 1);
    events.push_back(
        {start.workload_uid, start.nearest_workload_uid, start.pod_uid, serial, start.time_us});
  }
  if (events.empty()) return absl::OkStatus();
  const auto inserted = insertInChunks(
      events, static_cast<size_t>(config_.batch_rows),
      [this](std::span<const storage::RunEvent> chunk) {
        return storage::insertStartTrainEvents(database_, chunk);
      },
      [this](const storage::RunEvent& event, const absl::Status& reason) {
        setAside("workload_event", eventJson(event), reason, metrics_.events_rejected);
      },
      metrics_, metrics_.event_errors, clock_);
  if (!inserted.ok()) return inserted.status();
  metrics_.events_created->Increment(static_cast<double>(*inserted));
  // Another replica may have recorded some of these runs first: the serials stored are the ones
  // that count, so they are read back rather than assumed.
  absl::flat_hash_set<std::string_view> workloads;
  for (const auto& event : events) workloads.insert(event.workload_uid);
  return reloadRuns(workloads);
}

absl::Status TrainingWriter::writePerformances(const std::vector<PendingPerformance>& performances,
                                               std::vector<RowOfRun>& written) {
  if (performances.empty()) return absl::OkStatus();
  std::vector<storage::PerformanceRow> rows;
  rows.reserve(performances.size());
  // Ranks and log sinks repeat iterations; one statement must not carry a key twice, since the
  // insert guard only sees rows already stored.
  absl::flat_hash_set<std::tuple<std::string_view, int, int64_t>> keys;
  // Every logging pod and rank has series of its own; an iteration it logged twice (two log
  // sinks, a repeated line) is one sample.
  absl::flat_hash_set<
      std::tuple<std::string_view, std::string_view, std::string_view, int, int64_t>>
      sampled;
  for (const PendingPerformance& row : performances) {
    const int serial = serials_.serialFor(row.workload_uid, row.nearest_workload_uid);
    if (sampled.emplace(row.workload_uid, row.pod_uid, row.labels.rank, serial, row.iteration)
            .second) {
      written.push_back({&row, serial});
    }
    if (!keys.emplace(row.workload_uid, serial, row.iteration).second) continue;
    rows.push_back(
        {row.workload_uid, row.pod_uid, row.performance_json, row.iteration, serial, row.time_us});
  }
  const auto inserted = insertInChunks(
      rows, static_cast<size_t>(config_.batch_rows),
      [this](std::span<const storage::PerformanceRow> chunk) {
        return storage::insertPerformanceRows(database_, chunk);
      },
      [this](const storage::PerformanceRow& row, const absl::Status& reason) {
        setAside("training_performance", performanceJson(row), reason,
                 metrics_.performance_rejected);
      },
      metrics_, metrics_.performance_failed, clock_);
  if (!inserted.ok()) return inserted.status();
  metrics_.performance_written->Increment(static_cast<double>(*inserted));
  return absl::OkStatus();
}

absl::Status TrainingWriter::writeEnds(const std::vector<PendingLifecycle>& lifecycles) {
  std::vector<storage::RunEvent> events;
  absl::flat_hash_set<std::pair<std::string_view, std::string_view>> seen;
  for (const PendingLifecycle& event : lifecycles) {
    if (event.kind != LifecycleKind::kEnd ||
        !seen.emplace(event.workload_uid, event.nearest_workload_uid).second) {
      continue;
    }
    events.push_back({event.workload_uid, event.nearest_workload_uid, event.pod_uid,
                      serials_.serialFor(event.workload_uid, event.nearest_workload_uid),
                      event.time_us});
  }
  if (events.empty()) return absl::OkStatus();
  const auto inserted = insertInChunks(
      events, static_cast<size_t>(config_.batch_rows),
      [this](std::span<const storage::RunEvent> chunk) {
        return storage::insertEndTrainEvents(database_, chunk);
      },
      [this](const storage::RunEvent& event, const absl::Status& reason) {
        setAside("workload_event", eventJson(event), reason, metrics_.events_rejected);
      },
      metrics_, metrics_.event_errors, clock_);
  if (!inserted.ok()) return inserted.status();
  metrics_.end_events_created->Increment(static_cast<double>(*inserted));
  return absl::OkStatus();
}

absl::Status TrainingWriter::writeCheckpoints(const std::vector<PendingLifecycle>& lifecycles,
                                              std::vector<SaveOfRun>& saves) {
  std::vector<storage::CheckpointLine> starts;
  std::vector<storage::CheckpointLine> ends;
  std::vector<const PendingLifecycle*> end_lines;  // beside `ends`
  // Ranks print the same line: one statement must not carry a key twice, and a line that names
  // no iteration is looked up once for all of them.
  absl::flat_hash_set<std::tuple<std::string_view, int, std::optional<int64_t>, LifecycleKind>>
      seen;
  const auto line_of = [](const PendingLifecycle& event, int serial, int64_t iteration) {
    const bool save = event.kind == LifecycleKind::kCheckpointSaveStart ||
                      event.kind == LifecycleKind::kCheckpointSaveEnd;
    return storage::CheckpointLine{
        event.workload_uid,
        event.pod_uid,
        serial,
        iteration,
        event.path,
        save ? storage::CheckpointOperation::kSave : storage::CheckpointOperation::kLoad,
        event.time_us,
        plausibleDuration(event.duration_ms)};
  };
  for (const PendingLifecycle& event : lifecycles) {
    if (event.kind == LifecycleKind::kEnd) continue;
    const int serial = serials_.serialFor(event.workload_uid, event.nearest_workload_uid);
    if (!seen.emplace(event.workload_uid, serial, event.iteration, event.kind).second) continue;
    const bool end = event.kind == LifecycleKind::kCheckpointSaveEnd ||
                     event.kind == LifecycleKind::kCheckpointLoadEnd;
    if (end) {
      ends.push_back(line_of(event, serial, event.iteration.value_or(0)));
      end_lines.push_back(&event);
      continue;
    }
    int64_t iteration = event.iteration.value_or(0);
    if (!event.iteration) {
      // TorchTitan's saves name no step: the run's last iteration logged before the line, as
      // written above or by another replica; 0 before the first.
      auto last =
          storage::lastIterationBefore(database_, event.workload_uid, serial, event.time_us);
      if (!last.ok()) return last.status();
      iteration = last->value_or(0);
    }
    starts.push_back(line_of(event, serial, iteration));
  }
  // Starts first: an operation that began and ended within the batch gets its duration.
  if (!starts.empty()) {
    const auto created = insertInChunks(
        starts, static_cast<size_t>(config_.batch_rows),
        [this](std::span<const storage::CheckpointLine> chunk) {
          return storage::insertCheckpointStarts(database_, chunk);
        },
        [this](const storage::CheckpointLine& line, const absl::Status& reason) {
          setAside("checkpoint_event", checkpointJson(line), reason, metrics_.checkpoints_rejected);
        },
        metrics_, metrics_.event_errors, clock_);
    if (!created.ok()) return created.status();
    metrics_.checkpoints_started->Increment(static_cast<double>(*created));
  }
  // An end that names no iteration (TorchTitan's "Finished loading the checkpoint in 8.50
  // seconds.") completes the run's operation in progress; without one, it is keyed like a start.
  for (size_t i = 0; i < ends.size(); ++i) {
    if (end_lines[i]->iteration) continue;
    storage::CheckpointLine& end = ends[i];
    auto open = storage::openOperationIteration(database_, end.workload_uid, end.serial,
                                                end.operation, end.time_us);
    if (!open.ok()) return open.status();
    if (!*open) {
      open = storage::lastIterationBefore(database_, end.workload_uid, end.serial, end.time_us);
      if (!open.ok()) return open.status();
    }
    end.iteration = open->value_or(0);
  }
  // One statement per end: a checkpoint ends every few hundred iterations at most, and a refused
  // one is then set aside alone.
  for (size_t i = 0; i < ends.size(); ++i) {
    auto durations = storage::completeCheckpoints(database_, std::span(&ends[i], 1));
    if (!durations.ok()) {
      metrics_.event_errors->Increment();
      if (!absl::IsInvalidArgument(durations.status())) return durations.status();
      setAside("checkpoint_event", checkpointJson(ends[i]), durations.status(),
               metrics_.checkpoints_rejected);
      continue;
    }
    ++completed_in_batch_;
    const std::optional<int64_t> duration = durations->empty() ? std::nullopt : durations->front();
    if (ends[i].operation == storage::CheckpointOperation::kSave && duration) {
      saves.push_back({end_lines[i], ends[i].serial, *duration});
    }
  }
  return absl::OkStatus();
}

absl::Status TrainingWriter::sendSeries(std::span<const RowOfRun> rows,
                                        std::span<const SaveOfRun> saves) {
  if (series_ == nullptr || (rows.empty() && saves.empty())) return absl::OkStatus();
  for (prompb::OutputBuffer& lane : series_lanes_) lane.clear();
  std::fill(series_lane_samples_.begin(), series_lane_samples_.end(), 0);
  series_->encode(rows, saves, series_lanes_, series_lane_samples_);
  std::vector<forward::LanePart> parts;
  parts.reserve(series_lanes_.size());
  for (size_t lane = 0; lane < series_lanes_.size(); ++lane) {
    parts.push_back({series_lanes_[lane].view(), series_lane_samples_[lane]});
  }
  absl::Status submitted = series_sink_->submit(parts);
  if (submitted.ok()) series_->countEncoded();
  if (!submitted.ok()) {
    metrics_.series_submit_failures->Increment();
    return absl::Status(submitted.code(),
                        common::concat("training series not queued: ", common::message(submitted)));
  }
  return absl::OkStatus();
}

void TrainingWriter::setAside(std::string_view table, const std::string& row_json,
                              const absl::Status& reason, prometheus::Counter* rejected) {
  rejected->Increment();
  std::string line =
      common::concat(R"({"table":")", table, R"(","row":)", row_json, R"(,"reason":)");
  {
    rapidjson::StringBuffer buffer;
    common::JsonWriter json(buffer);
    common::writeString(json, common::message(reason));
    line += buffer.GetString();
  }
  line += "}\n";
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(dead_letter_file_, error);
  bool kept = false;
  if (error || size + line.size() <= kDeadLetterMaxBytes) {
    std::ofstream file(dead_letter_file_, std::ios::app | std::ios::binary);
    file << line;
    file.flush();
    kept = file.good();
  }
  refused_log_.log(spdlog::level::warn, "training rows: the database refused a {} row ({}); {}: {}",
                   table, common::message(reason),
                   kept ? common::concat("kept in ", dead_letter_file_.string())
                        : common::concat("not kept: cannot append to ", dead_letter_file_.string()),
                   row_json.substr(0, 512));
}

}  // namespace tp::training
