// The training-health rules over arbitrary rows: each input line is one row's performance
// document (what the database holds; a Lens database may hold anything). Every rule must return,
// with events keyed inside the rows given, nothing found again once recorded, and goodput figures
// that are finite and not negative.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "training/health_rules.h"

namespace {

void checkFinite(double value) {
  if (!std::isfinite(value) || value < 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<tp::training::RowFigures> rows;
  tp::training::RowReader reader;
  tp::training::GoodputCalculator goodput;
  size_t start = 0;
  for (int64_t iteration = 1; start <= input.size() && rows.size() < 1000; ++iteration) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const tp::storage::ProgressRow row{
        .iteration = iteration,
        .time_us = iteration * 1'000'000,
        .pod_uid = "pod",
        .performance_json = std::string(input.substr(start, end - start))};
    rows.push_back(reader.read(row));
    goodput.add(1, iteration, row.time_us, rows.back().step_ms, {});
    start = end + 1;
  }
  const tp::storage::RunKey run{"w-job", 1};
  const auto stall = tp::training::findStall({}, rows, {}, 1'000'000'000'000);
  const tp::storage::HealthRun health_run{.key = run, .started_us = 0};
  for (const auto& event :
       tp::training::stallEvents(health_run, stall, rows, {}, 1'000'000'000'000)) {
    if (event.occurrence < 1 || event.occurrence > static_cast<int64_t>(rows.size()))
      __builtin_trap();
  }
  const auto events = tp::training::findAnomalies({}, run, rows, 0, true, {});
  for (const auto& event : events) {
    if (event.occurrence < 1 || event.occurrence > static_cast<int64_t>(rows.size()))
      __builtin_trap();
  }
  // Judged again with what it found recorded (as the next check, or another replica, does):
  // nothing new.
  if (!tp::training::findAnomalies({}, run, rows, 0, true, events).empty()) __builtin_trap();
  if (!tp::training::findAnomalies({}, run, rows, rows.size() / 2, true, events).empty()) {
    __builtin_trap();
  }
  const tp::storage::RunPhase phase{.serial = 1};
  const auto figures = goodput.finish({&phase, 1}, {}, events, 2'000'000'000);
  for (double value :
       {figures.wall_seconds, figures.productive_seconds, figures.redone_seconds,
        figures.restarts_seconds, figures.stalls_seconds, figures.other_seconds, figures.ratio}) {
    checkFinite(value);
  }
  return 0;
}
