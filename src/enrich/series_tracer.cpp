#include "enrich/series_tracer.h"

#include <algorithm>

#include "common/strings.h"
#include "re2/re2.h"

namespace tp::enrich {
namespace {

// Configurations are told apart across tracers too: a thread's cached state names its owner
// and generation.
std::atomic<uint64_t> next_generation{1};

bool globMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

enum class SelectorKind : uint8_t { kExact, kNonEmpty, kGlob };

struct Selector {
  std::string name;
  std::string value;
  SelectorKind kind;

  bool matches(std::string_view actual) const {
    switch (kind) {
      case SelectorKind::kExact:
        return actual == value;
      case SelectorKind::kNonEmpty:
        return !actual.empty();
      case SelectorKind::kGlob:
        return globMatch(value, actual);
    }
    return false;
  }
};

std::string_view labelValue(const ingest::DecodedSeries& series, std::string_view name) {
  for (const ingest::LabelView& label : series.labels) {
    if (label.name == name) return label.value;
  }
  return {};
}

int64_t microsOf(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

std::string ruleWords(const SeriesResolution& resolution) {
  switch (resolution.rule) {
    case PodRule::kDevice:
      return common::concat("its ", cache::kDeviceLabelNames[resolution.device_label], " ",
                            resolution.device, " on node ", resolution.node);
    case PodRule::kPodAndUid:
      return "its pod and uid labels";
    case PodRule::kPod:
      return "its pod label";
    case PodRule::kNone:
      break;
  }
  return "no rule";
}

}  // namespace

struct SeriesTracer::State {
  struct Slot {
    std::mutex mutex;
    uint64_t sequence = 0;  // 0: never written
    TraceRecord record;
  };

  TraceConfig config;
  std::unique_ptr<re2::RE2> pattern;  // null: every name
  std::vector<Selector> selectors;
  std::unique_ptr<Slot[]> slots;
  std::atomic<uint64_t> next_sequence{0};
  std::atomic<uint64_t> cleared_through{0};  // records up to this sequence were cleared
  std::atomic<uint64_t> matched{0};
  std::atomic<uint64_t> passed{0};
  std::atomic<uint64_t> filtered{0};
  std::atomic<int64_t> last_update_us{0};

  bool matches(const SeriesResolution& resolution) const {
    for (const Selector& selector : selectors) {
      if (!selector.matches(labelValue(resolution.series, selector.name))) return false;
    }
    return pattern == nullptr ||
           re2::RE2::PartialMatch(
               re2::StringPiece(resolution.metric_name.data(), resolution.metric_name.size()),
               *pattern);
  }

  void store(TraceRecord record) {
    const uint64_t sequence = next_sequence.fetch_add(1, std::memory_order_relaxed) + 1;
    Slot& slot = slots[(sequence - 1) % config.max_records];
    std::lock_guard lock(slot.mutex);
    if (slot.sequence > sequence) return;  // a later record took the slot first
    slot.sequence = sequence;
    slot.record = std::move(record);
  }
};

std::string traceReason(const SeriesResolution& resolution) {
  if (!resolution.dropped) {
    std::string workloads;
    for (const cache::WorkloadRef* workload : *resolution.workloads) {
      if (!workloads.empty()) workloads += ", ";
      workloads += workload->name;
    }
    return common::concat("passed: pod ", resolution.pod_name, " found by ", ruleWords(resolution),
                          ", forwarded for ", resolution.workloads->size(), " workload(s) (",
                          workloads, ")");
  }
  switch (resolution.drop_reason) {
    case DropReason::kNoMetricName:
      return "missing_metric_name: the series has no __name__ label";
    case DropReason::kNoPod:
      if (resolution.node.empty()) {
        return "missing_pod_info: no primus_lens_node_name label to look devices up by, and no "
               "pod label";
      }
      return common::concat(
          "missing_pod_info: no gpu_id, device or asic label of this series is a "
          "device of a running pod on node ",
          resolution.node, ", and no pod label");
    case DropReason::kNoWorkload:
      return common::concat("no_workload_found: pod ", resolution.pod_name, " (uid ",
                            resolution.pod_uid, ") belongs to no running workload");
    case DropReason::kNegativeValue:
      return common::concat("all_samples_negative: pod ", resolution.pod_name, " found, but all ",
                            resolution.series.samples.size(), " sample(s) are below 0");
    case DropReason::kCount:
      break;
  }
  return "filtered";
}

SeriesTracer::SeriesTracer(const common::Clock& clock)
    : clock_(clock), generation_(next_generation.fetch_add(1)) {
  TraceConfig config;
  config.enabled = false;
  configure(std::move(config)).IgnoreError();
}

SeriesTracer::~SeriesTracer() = default;

absl::Status SeriesTracer::configure(TraceConfig config) {
  if (config.max_records < 1 || config.max_records > kMaxTraceRecords) {
    return absl::InvalidArgumentError(common::concat("max_records must be 1 to ", kMaxTraceRecords,
                                                     ", not ", config.max_records));
  }
  auto state = std::make_shared<State>();
  if (!config.metric_pattern.empty()) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    state->pattern = std::make_unique<re2::RE2>(config.metric_pattern, options);
    if (!state->pattern->ok()) {
      return absl::InvalidArgumentError(common::concat(
          "metric_pattern is not a valid regular expression: ", state->pattern->error()));
    }
  }
  for (const auto& [name, value] : config.label_selectors) {
    if (name.empty()) return absl::InvalidArgumentError("label_selectors: empty label name");
    const SelectorKind kind = value == "*" ? SelectorKind::kNonEmpty
                              : value.find_first_of("*?") != std::string::npos
                                  ? SelectorKind::kGlob
                                  : SelectorKind::kExact;
    state->selectors.push_back({name, value, kind});
  }
  state->slots = std::make_unique<State::Slot[]>(config.max_records);
  state->config = std::move(config);
  const bool enabled = state->config.enabled;
  {
    std::lock_guard lock(mutex_);
    state_ = std::move(state);
    generation_.store(next_generation.fetch_add(1), std::memory_order_release);
  }
  enabled_.store(enabled, std::memory_order_relaxed);
  return absl::OkStatus();
}

void SeriesTracer::disable() {
  enabled_.store(false, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  state_->config.enabled = false;
}

TraceConfig SeriesTracer::config() const {
  std::lock_guard lock(mutex_);
  TraceConfig config = state_->config;
  config.enabled = enabled();
  return config;
}

std::shared_ptr<SeriesTracer::State> SeriesTracer::current() const {
  thread_local const SeriesTracer* cached_owner = nullptr;
  thread_local uint64_t cached_generation = 0;
  thread_local std::shared_ptr<State> cached;
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  if (cached_owner != this || cached_generation != generation) {
    std::lock_guard lock(mutex_);
    cached = state_;
    cached_owner = this;
    cached_generation = generation_.load(std::memory_order_relaxed);
  }
  return cached;
}

SeriesTracer::Session SeriesTracer::session() const { return Session(current(), clock_); }

std::vector<TraceRecord> SeriesTracer::records() const {
  const std::shared_ptr<State> state = current();
  const uint64_t cleared = state->cleared_through.load(std::memory_order_acquire);
  std::vector<std::pair<uint64_t, TraceRecord>> found;
  for (size_t i = 0; i < state->config.max_records; ++i) {
    State::Slot& slot = state->slots[i];
    std::lock_guard lock(slot.mutex);
    if (slot.sequence > cleared) found.emplace_back(slot.sequence, slot.record);
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<TraceRecord> records;
  records.reserve(found.size());
  for (auto& [sequence, record] : found) records.push_back(std::move(record));
  return records;
}

TraceStats SeriesTracer::stats() const {
  const std::shared_ptr<State> state = current();
  return {.total_matched = state->matched.load(std::memory_order_relaxed),
          .total_passed = state->passed.load(std::memory_order_relaxed),
          .total_filtered = state->filtered.load(std::memory_order_relaxed),
          .last_update_time = std::chrono::system_clock::time_point(
              std::chrono::microseconds(state->last_update_us.load(std::memory_order_relaxed)))};
}

void SeriesTracer::clear() {
  const std::shared_ptr<State> state = current();
  state->cleared_through.store(state->next_sequence.load(std::memory_order_relaxed),
                               std::memory_order_release);
  state->matched.store(0, std::memory_order_relaxed);
  state->passed.store(0, std::memory_order_relaxed);
  state->filtered.store(0, std::memory_order_relaxed);
  state->last_update_us.store(0, std::memory_order_relaxed);
}

void SeriesTracer::Session::onResolved(const SeriesResolution& resolution) {
  // A series without a name has nothing to match the pattern against.
  if (resolution.metric_name.empty() || !state_->matches(resolution)) return;
  ++(resolution.dropped ? filtered_ : passed_);
  // The ring keeps the latest max_records: so does a request, overwriting its oldest record.
  const size_t capacity = state_->config.max_records;
  TraceRecord& record = pending_.size() < capacity ? pending_.emplace_back()
                                                   : pending_[(passed_ + filtered_ - 1) % capacity];
  record.labels.clear();
  record.metric_name = resolution.metric_name;
  record.labels.reserve(resolution.series.labels.size());
  for (const ingest::LabelView& label : resolution.series.labels) {
    record.labels.emplace_back(label.name, label.value);
  }
  record.pod_name = resolution.pod_name;
  record.pod_uid = resolution.pod_uid;
  record.passed = !resolution.dropped;
  record.reason = traceReason(resolution);
  record.sample_count = resolution.samples_out;
}

void SeriesTracer::Session::commit() {
  if (passed_ + filtered_ == 0) return;
  const auto now = clock_.wallNow();
  // Once the request's records wrapped, its oldest is the one after the last written.
  const size_t oldest = (passed_ + filtered_) % pending_.size();
  for (size_t i = 0; i < pending_.size(); ++i) {
    TraceRecord& record = pending_[(oldest + i) % pending_.size()];
    record.timestamp = now;
    state_->store(std::move(record));
  }
  state_->matched.fetch_add(passed_ + filtered_, std::memory_order_relaxed);
  state_->passed.fetch_add(passed_, std::memory_order_relaxed);
  state_->filtered.fetch_add(filtered_, std::memory_order_relaxed);
  state_->last_update_us.store(microsOf(now), std::memory_order_relaxed);
  pending_.clear();
  passed_ = filtered_ = 0;
}

}  // namespace tp::enrich
