#pragma once
// GET /ui/api/training/{workload_uid}/chart?run=<serial>&points=50..2000: one run as the
// console's run page draws it. The server downsamples: the run's iterations fall into at most
// `points` buckets of equal width, each giving the min, mean and max of every charted field and
// the time of its first row, so that a run of 100 000 iterations is a few hundred KB however long
// it is. Beside it, the markers: start, saves, health events and end.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/json_writer.h"
#include "http/router.h"
#include "simdjson.h"
#include "storage/database.h"

namespace tp::console {

// The training_performance fields the run page charts, in its order.
inline constexpr std::array<std::string_view, 6> kChartFields = {
    "lm_loss",    "tflops",       "tokens_per_gpu", "elapsed_time_per_iteration_ms",
    "mem_usages", "learning_rate"};

inline constexpr size_t kDefaultChartPoints = 800;
inline constexpr size_t kMinChartPoints = 50;
inline constexpr size_t kMaxChartPoints = 2000;

// The buckets of one run's rows. Rows come in iteration order; each one's bucket is its
// iteration's, so a single pass fills them.
class RunChartBuilder {
 public:
  RunChartBuilder(int64_t first_iteration, int64_t last_iteration, size_t points);

  // A row's document; fields that are absent, not numbers or not finite are skipped. False for a
  // row outside the iterations given (written after they were read).
  bool add(int64_t iteration, int64_t time_us, std::string_view performance_json);

  int64_t bucketIterations() const { return width_; }
  // "iteration", "time_ms" and "series" of the answer, for the buckets that hold a row.
  void write(common::JsonWriter& writer) const;

 private:
  struct Stat {
    double min = 0, max = 0, sum = 0;
    uint32_t count = 0;
  };
  struct Bucket {
    int64_t first_iteration = 0;
    int64_t first_time_us = 0;
    bool used = false;
    std::array<Stat, kChartFields.size()> stats{};
  };

  int64_t first_;
  int64_t last_;
  int64_t width_;
  std::vector<Bucket> buckets_;
  simdjson::dom::parser parser_;
  std::string padded_;
};

void addRunChartRoute(http::Router& router, storage::Database& database);

}  // namespace tp::console
