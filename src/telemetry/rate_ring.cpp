#include "telemetry/rate_ring.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "telemetry/telemetry.h"

namespace tp::telemetry {
namespace {

constexpr double kNoTotal = std::numeric_limits<double>::quiet_NaN();

size_t slotOf(int64_t unix_seconds) {
  const auto size = static_cast<int64_t>(RateRing::kSeconds);
  return static_cast<size_t>(((unix_seconds % size) + size) % size);
}

std::string_view labelValue(const prometheus::ClientMetric& metric, std::string_view name) {
  for (const prometheus::ClientMetric::Label& label : metric.label) {
    if (label.name == name) return label.value;
  }
  return {};
}

}  // namespace

RateRing::RateRing(std::vector<FlowSpec> specs) : specs_(std::move(specs)) {
  stamps_.fill(std::numeric_limits<int64_t>::min());
}

RateRing::Flow& RateRing::flowOf(const FlowSpec& spec, std::string_view name) {
  for (Flow& flow : flows_) {
    if (flow.spec == &spec && flow.name == name) return flow;
  }
  Flow& flow = flows_.emplace_back(Flow{&spec, std::string(name), {}});
  flow.totals.fill(kNoTotal);
  return flow;
}

void RateRing::sample(int64_t unix_seconds, const std::vector<prometheus::MetricFamily>& families) {
  std::lock_guard lock(mutex_);
  const size_t slot = slotOf(unix_seconds);
  stamps_[slot] = unix_seconds;
  for (Flow& flow : flows_) flow.totals[slot] = kNoTotal;
  for (const FlowSpec& spec : specs_) {
    const auto family = std::find_if(families.begin(), families.end(),
                                     [&spec](const auto& one) { return one.name == spec.family; });
    if (family == families.end()) continue;
    for (const prometheus::ClientMetric& metric : family->metric) {
      if (!spec.where_label.empty() && labelValue(metric, spec.where_label) != spec.where_value) {
        continue;
      }
      Flow& flow =
          flowOf(spec, spec.split_by.empty() ? spec.name : labelValue(metric, spec.split_by));
      double& total = flow.totals[slot];
      total = (std::isnan(total) ? 0 : total) + metric.counter.value;
    }
  }
  last_ = unix_seconds;
}

RateWindow RateRing::window(int64_t end_seconds, int step_seconds, size_t points) const {
  std::lock_guard lock(mutex_);
  RateWindow window{.end_seconds = end_seconds, .step_seconds = step_seconds, .flows = {}};
  // The latest second sampled in (second - step, second]: the sampler wakes about once a second
  // and now and then skips one.
  const auto sampled_at = [this, step_seconds](int64_t second) -> std::optional<int64_t> {
    for (int64_t at = second; at > second - step_seconds; --at) {
      if (stamps_[slotOf(at)] == at) return at;
    }
    return std::nullopt;
  };
  for (const Flow& flow : flows_) {
    FlowRates& rates = window.flows.emplace_back(
        FlowRates{std::string(flow.spec->group), std::string(flow.spec->kind), flow.name, {}});
    rates.per_second.reserve(points);
    for (size_t i = 0; i < points; ++i) {
      const int64_t end = end_seconds - static_cast<int64_t>(points - 1 - i) * step_seconds;
      const std::optional<int64_t> after = sampled_at(end);
      const std::optional<int64_t> before = sampled_at(end - step_seconds);
      if (!after || !before || std::isnan(flow.totals[slotOf(*after)])) {
        rates.per_second.emplace_back();
        continue;
      }
      // A flow not yet seen at the earlier sample started from nothing.
      const double earlier = flow.totals[slotOf(*before)];
      rates.per_second.emplace_back(
          (flow.totals[slotOf(*after)] - (std::isnan(earlier) ? 0 : earlier)) /
          static_cast<double>(*after - *before));
    }
  }
  return window;
}

std::optional<int64_t> RateRing::lastSample() const {
  std::lock_guard lock(mutex_);
  return last_;
}

RateSampler::RateSampler(const Telemetry& telemetry, RateRing& ring, const common::Clock& clock)
    : telemetry_(telemetry), ring_(ring), clock_(clock) {}

RateSampler::~RateSampler() { stop(); }

void RateSampler::sampleNow() {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.wallNow().time_since_epoch()).count();
  ring_.sample(now, telemetry_.collect());
}

void RateSampler::start() {
  sampleNow();
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!clock_.waitFor(lock, wakeup_, std::chrono::seconds(1), [this] { return stopping_; })) {
      lock.unlock();
      sampleNow();
      lock.lock();
    }
  });
}

void RateSampler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wakeup_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tp::telemetry
