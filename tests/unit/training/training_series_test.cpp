// The training series encoder: what a performance row and a checkpoint save become as remote
// write (names, labels, values in base units, timestamps), decoded with protoc's classes; repeats
// within a batch, the per-workload budget and its expiry on a simulated clock, and the lanes.

#include "training/training_series.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <map>

#include "prompb/lane.h"
#include "remote_v1.pb.h"
#include "support/simulated_clock.h"
#include "training/performance_extractor.h"

namespace tp::training {
namespace {

using namespace std::chrono_literals;
using Labels = std::vector<std::pair<std::string, std::string>>;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr int64_t kTimeUs = 1761223152123456;  // 2025-10-23 12:39:12.123456
constexpr int64_t kTimeMs = 1761223152123;

// The seed's Primus HIP line (SPEC §5).
constexpr std::string_view kHipLine =
    "\x1b[32m20251023 12:39:12\x1b[0m][\x1b[36mrank-63/64\x1b[0m][\x1b[1mINFO \x1b[0m] "
    "\x1b[1m[--------trainer.py:2382] :  iteration      424/   40000 | consumed samples:        "
    "27136 | elapsed time per iteration (ms): 16601.3/17219.3 | hip mem "
    "usage/free/total/usage_ratio: 253.38GB/2.60GB/255.98GB/98.98% | throughput per GPU "
    "(TFLOP/s/GPU): 11.9/11.5 | tokens per GPU (tokens/s/GPU): 246.7/238.1 | learning rate: "
    "9.997254E-06 | global batch size:    64 | lm loss: 4.447942E+00 | loss scale: 1.0 | grad "
    "norm: 6.142 | num zeros: 960902016.0 | number of skipped iterations:   0 | number of nan "
    "iterations:   0 |\x1b[0m";

constexpr std::string_view kLegacyLine =
    " iteration       10/     500 | consumed samples:          640 | elapsed time per iteration "
    "(ms): 1520.3/1533.0 | mem usages: 0.7312 | throughput per GPU (TFLOP/s/GPU): 180.4/179.9 |";

// The document the logs path stores for a line.
std::string documentOf(std::string_view line) {
  const PerformanceExtractor extractor;
  Performance performance;
  EXPECT_EQ(extractor.extract(line, &performance), LineKind::kPerformance) << line;
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writePerformanceJson(writer, performance);
  return buffer.GetString();
}

PendingPerformance row(std::string document, std::string rank = "63", int64_t time_us = kTimeUs,
                       std::string pod = "pretrain-worker-0") {
  PendingPerformance row;
  row.workload_uid = "w-job";
  row.nearest_workload_uid = "w-run";
  row.pod_uid = "uid-" + pod;
  row.performance_json = std::move(document);
  row.time_us = time_us;
  row.labels = {.workload_name = "pretrain",
                .pod_name = std::move(pod),
                .namespace_name = "team-llm",
                .node = "gpu-node-0",
                .rank = std::move(rank)};
  return row;
}

Labels labelsOf(const ::prompb::TimeSeries& series) {
  Labels labels;
  for (const auto& label : series.labels()) labels.emplace_back(label.name(), label.value());
  return labels;
}

std::string nameOf(const ::prompb::TimeSeries& series) {
  for (const auto& label : series.labels()) {
    if (label.name() == "__name__") return label.value();
  }
  return "";
}

std::string labelValue(const ::prompb::TimeSeries& series, std::string_view name) {
  for (const auto& label : series.labels()) {
    if (label.name() == name) return label.value();
  }
  return "";
}

// The label fields of a series as the encoder writes them (no value is empty): its lane's input.
std::string labelFields(const ::prompb::TimeSeries& series) {
  ::prompb::TimeSeries labels_only;
  *labels_only.mutable_labels() = series.labels();
  return labels_only.SerializeAsString();
}

class TrainingSeriesTest : public ::testing::Test {
 protected:
  void open(int max_per_workload = 500) {
    config_.max_per_workload = max_per_workload;
    encoder_ = std::make_unique<TrainingSeriesEncoder>(config_, metrics_, clock_);
  }

  // Encodes one batch into `lanes` fresh lanes, as queued (counted), and decodes each of them.
  std::vector<::prompb::WriteRequest> encode(const std::vector<PendingPerformance>& rows,
                                             const std::vector<SaveOfRun>& saves = {},
                                             size_t lanes = 1, int serial = 1) {
    if (encoder_ == nullptr) open();
    std::vector<RowOfRun> of_run;
    for (const PendingPerformance& performance : rows) of_run.push_back({&performance, serial});
    std::vector<prompb::OutputBuffer> buffers(lanes);
    lane_samples_.assign(lanes, 0);
    encoder_->encode(of_run, saves, buffers, lane_samples_);
    encoder_->countEncoded();
    std::vector<::prompb::WriteRequest> requests(lanes);
    for (size_t lane = 0; lane < lanes; ++lane) {
      EXPECT_TRUE(requests[lane].ParseFromString(std::string(buffers[lane].view())))
          << "lane " << lane << " is not a WriteRequest";
    }
    return requests;
  }

  // Name -> the one series of that name.
  static std::map<std::string, ::prompb::TimeSeries> byName(const ::prompb::WriteRequest& request) {
    std::map<std::string, ::prompb::TimeSeries> series;
    for (const auto& one : request.timeseries()) {
      EXPECT_TRUE(series.emplace(nameOf(one), one).second) << "two series named " << nameOf(one);
    }
    return series;
  }

  double queued() const { return metrics_.samples->Value(); }
  double overBudget() const { return metrics_.over_budget_samples->Value(); }
  double tracked() const { return metrics_.series->Value(); }

  telemetry::Telemetry telemetry_{"test"};
  telemetry::TrainingSeriesMetrics metrics_ = telemetry_.trainingSeriesMetrics();
  testing::SimulatedClock clock_;
  config::TrainingSeriesConfig config_;
  std::unique_ptr<TrainingSeriesEncoder> encoder_;
  std::vector<size_t> lane_samples_;
};

TEST_F(TrainingSeriesTest, APrimusHipLineBecomesOneSeriesPerFieldInBaseUnits) {
  const auto series = byName(encode({row(documentOf(kHipLine))})[0]);
  const std::map<std::string, double> expected = {
      {"workload_training_iteration", 424},
      {"workload_training_target_iterations", 40000},
      {"workload_training_consumed_samples", 27136},
      {"workload_training_step_seconds", 16.6013},
      {"workload_training_memory_used_bytes", 253.38 * kGiB},
      {"workload_training_memory_free_bytes", 2.60 * kGiB},
      {"workload_training_memory_total_bytes", 255.98 * kGiB},
      {"workload_training_memory_usage_ratio", 0.9898},
      {"workload_training_tflops_per_gpu", 11.9},
      {"workload_training_tokens_per_gpu_per_second", 246.7},
      {"workload_training_learning_rate", 9.997254e-06},
      {"workload_training_global_batch_size", 64},
      {"workload_training_loss", 4.447942},
      {"workload_training_loss_scale", 1},
      {"workload_training_grad_norm", 6.142},
      {"workload_training_num_zeros", 960902016},
      {"workload_training_skipped_iterations", 0},
      {"workload_training_nan_iterations", 0},
  };
  ASSERT_EQ(series.size(), expected.size());
  for (const auto& [name, value] : expected) {
    SCOPED_TRACE(name);
    ASSERT_EQ(series.count(name), 1u);
    const ::prompb::TimeSeries& one = series.at(name);
    ASSERT_EQ(one.samples_size(), 1);
    EXPECT_DOUBLE_EQ(one.samples(0).value(), value);
    EXPECT_EQ(one.samples(0).timestamp(), kTimeMs);
    EXPECT_EQ(labelsOf(one), (Labels{{"__name__", name},
                                     {"job", "primus-lens-telemetry-processor"},
                                     {"namespace", "team-llm"},
                                     {"node", "gpu-node-0"},
                                     {"pod_name", "pretrain-worker-0"},
                                     {"pod_uid", "uid-pretrain-worker-0"},
                                     {"rank", "63"},
                                     {"run", "1"},
                                     {"workload_name", "pretrain"},
                                     {"workload_uid", "w-job"}}));
  }
  EXPECT_EQ(queued(), 18);
  EXPECT_EQ(lane_samples_, std::vector<size_t>{18});
  EXPECT_EQ(tracked(), 18);
}

// "mem usages" of older Primus and ROCm Megatron is 1 - free/total, not an amount.
TEST_F(TrainingSeriesTest, TheLegacyMemUsagesIsTheUsageRatio) {
  const auto series = byName(encode({row(documentOf(kLegacyLine))})[0]);
  ASSERT_EQ(series.count("workload_training_memory_usage_ratio"), 1u);
  EXPECT_DOUBLE_EQ(series.at("workload_training_memory_usage_ratio").samples(0).value(), 0.7312);
  EXPECT_EQ(series.count("workload_training_memory_used_bytes"), 0u);
  EXPECT_DOUBLE_EQ(series.at("workload_training_step_seconds").samples(0).value(), 1.5203);
}

TEST_F(TrainingSeriesTest, MfuIsARatio) {
  const auto series = byName(encode({row(R"({"current_iteration":7,"mfu":41.5})")})[0]);
  EXPECT_DOUBLE_EQ(series.at("workload_training_mfu").samples(0).value(), 0.415);
}

TEST_F(TrainingSeriesTest, NonFiniteValuesAreSentButNeverAsTheStalenessMarker) {
  const auto series = byName(encode({row(
      R"({"current_iteration":5,"lm_loss":"NaN","grad_norm":"+Inf","loss_scale":"-Inf"})")})[0]);
  constexpr uint64_t kStaleNaN = 0x7ff0000000000002;
  const double loss = series.at("workload_training_loss").samples(0).value();
  EXPECT_TRUE(std::isnan(loss));
  EXPECT_NE(std::bit_cast<uint64_t>(loss), kStaleNaN);
  EXPECT_EQ(std::bit_cast<uint64_t>(loss),
            std::bit_cast<uint64_t>(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_EQ(series.at("workload_training_grad_norm").samples(0).value(),
            std::numeric_limits<double>::infinity());
  EXPECT_EQ(series.at("workload_training_loss_scale").samples(0).value(),
            -std::numeric_limits<double>::infinity());
}

TEST_F(TrainingSeriesTest, CustomKeysBecomeSeriesOfTheirOwn) {
  const auto series = byName(
      encode({row(R"({"current_iteration":9,"router_balance":0.25,"aux.loss-z":3e-4})")})[0]);
  ASSERT_EQ(series.size(), 3u);
  EXPECT_DOUBLE_EQ(series.at("workload_training_router_balance").samples(0).value(), 0.25);
  EXPECT_DOUBLE_EQ(series.at("workload_training_aux_loss_z").samples(0).value(), 3e-4);
}

TEST_F(TrainingSeriesTest, EmptyLabelsAreLeftOut) {
  PendingPerformance no_rank = row(R"({"current_iteration":3})", "");
  no_rank.labels.namespace_name.clear();
  const auto requests = encode({no_rank});
  ASSERT_EQ(requests[0].timeseries_size(), 1);
  EXPECT_EQ(labelsOf(requests[0].timeseries(0)),
            (Labels{{"__name__", "workload_training_iteration"},
                    {"job", "primus-lens-telemetry-processor"},
                    {"node", "gpu-node-0"},
                    {"pod_name", "pretrain-worker-0"},
                    {"pod_uid", "uid-pretrain-worker-0"},
                    {"run", "1"},
                    {"workload_name", "pretrain"},
                    {"workload_uid", "w-job"}}));
}

TEST_F(TrainingSeriesTest, EachRunIsASeriesOfItsOwn) {
  open();
  const std::vector<PendingPerformance> rows = {row(R"({"current_iteration":3})")};
  const auto first = encode(rows, {}, 1, 1);
  const auto second = encode(rows, {}, 1, 12);
  EXPECT_EQ(labelValue(first[0].timeseries(0), "run"), "1");
  EXPECT_EQ(labelValue(second[0].timeseries(0), "run"), "12");
  EXPECT_EQ(tracked(), 2);
}

// Two log sinks or ranks repeat a line: one sample per series and time; each series once per
// batch with its samples in time order, whatever the order of the rows.
TEST_F(TrainingSeriesTest, RepeatsGiveOneSampleAndEachSeriesIsWrittenOnceInTimeOrder) {
  const std::string later = R"({"current_iteration":11,"lm_loss":2.5})";
  const std::string earlier = R"({"current_iteration":10,"lm_loss":2.75})";
  const auto requests = encode({row(later, "7", kTimeUs + 2'000'000), row(earlier, "7", kTimeUs),
                                row(later, "7", kTimeUs + 2'000'000), row(earlier, "7", kTimeUs)});
  const auto series = byName(requests[0]);
  ASSERT_EQ(series.size(), 2u);
  const auto& loss = series.at("workload_training_loss");
  ASSERT_EQ(loss.samples_size(), 2);
  EXPECT_EQ(loss.samples(0).timestamp(), kTimeMs);
  EXPECT_EQ(loss.samples(0).value(), 2.75);
  EXPECT_EQ(loss.samples(1).timestamp(), kTimeMs + 2000);
  EXPECT_EQ(loss.samples(1).value(), 2.5);
  EXPECT_EQ(queued(), 4);
  EXPECT_EQ(lane_samples_, std::vector<size_t>{4});
}

TEST_F(TrainingSeriesTest, ACheckpointSaveBecomesItsDurationInSeconds) {
  PendingLifecycle end;
  end.workload_uid = "w-job";
  end.nearest_workload_uid = "w-run";
  end.pod_uid = "uid-pretrain-worker-1";
  end.kind = LifecycleKind::kCheckpointSaveEnd;
  end.iteration = 500;
  end.time_us = kTimeUs;
  end.labels = {.workload_name = "pretrain",
                .pod_name = "pretrain-worker-1",
                .namespace_name = "team-llm",
                .node = "gpu-node-1",
                .rank = "0"};
  const auto requests = encode({}, {SaveOfRun{&end, 3, 12'345}});
  ASSERT_EQ(requests[0].timeseries_size(), 1);
  const auto& save = requests[0].timeseries(0);
  EXPECT_EQ(labelsOf(save), (Labels{{"__name__", "workload_training_checkpoint_seconds"},
                                    {"job", "primus-lens-telemetry-processor"},
                                    {"namespace", "team-llm"},
                                    {"node", "gpu-node-1"},
                                    {"pod_name", "pretrain-worker-1"},
                                    {"pod_uid", "uid-pretrain-worker-1"},
                                    {"rank", "0"},
                                    {"run", "3"},
                                    {"workload_name", "pretrain"},
                                    {"workload_uid", "w-job"}}));
  ASSERT_EQ(save.samples_size(), 1);
  EXPECT_DOUBLE_EQ(save.samples(0).value(), 12.345);
  EXPECT_EQ(save.samples(0).timestamp(), kTimeMs);
}

TEST_F(TrainingSeriesTest, ADocumentThatDoesNotParseGivesNothingAndTheBatchGoesOn) {
  const auto requests =
      encode({row(R"({"current_iteration":)"), row(R"({"current_iteration":4})")});
  ASSERT_EQ(requests[0].timeseries_size(), 1);
  EXPECT_EQ(requests[0].timeseries(0).samples(0).value(), 4);
}

// A HIP line gives 18 series: with a budget of 20, a second rank gets 2 and the rest of its
// samples are dropped and counted; another workload has a budget of its own.
TEST_F(TrainingSeriesTest, SeriesBeyondAWorkloadsBudgetAreDroppedAndCounted) {
  open(20);
  const std::string document = documentOf(kHipLine);
  PendingPerformance other_workload = row(document, "0");
  other_workload.workload_uid = "w-other";
  const auto requests = encode({row(document, "0"), row(document, "1"), other_workload});
  EXPECT_EQ(requests[0].timeseries_size(), 18 + 2 + 18);
  EXPECT_EQ(queued(), 38);
  EXPECT_EQ(overBudget(), 16);
  EXPECT_EQ(tracked(), 38);

  // Known series keep going, new ones stay out.
  const auto again = encode({row(document, "1", kTimeUs + 1'000'000), row(document, "2")});
  EXPECT_EQ(again[0].timeseries_size(), 2);
  for (const auto& series : again[0].timeseries()) EXPECT_EQ(labelValue(series, "rank"), "1");
  EXPECT_EQ(overBudget(), 16 + 16 + 18);
  EXPECT_EQ(tracked(), 38);
}

// A series idle for a day no longer counts: its place goes to a new one, and a workload that
// sent nothing for a day is forgotten whole.
TEST_F(TrainingSeriesTest, IdleSeriesAreForgottenAfterADay) {
  open(20);
  const std::string document = documentOf(kHipLine);
  encode({row(document, "0"), row(document, "1")});  // rank 1 gets 2 series
  ASSERT_EQ(tracked(), 20);
  clock_.advance(23h);
  encode({row(document, "0")});
  clock_.advance(2h);  // rank 1's two series have been idle for 25 h, rank 0's for 2 h
  const double dropped_before = overBudget();
  const auto requests = encode({row(document, "2")});
  EXPECT_EQ(requests[0].timeseries_size(), 2);
  EXPECT_EQ(overBudget() - dropped_before, 16);
  EXPECT_EQ(tracked(), 20);

  clock_.advance(kForgetSeriesAfter);
  encode({});
  EXPECT_EQ(tracked(), 0);
  // All of the budget is free again.
  EXPECT_EQ(encode({row(document, "3")})[0].timeseries_size(), 18);
}

// Lanes hold whole series, each in the lane its label fields name, the same lane in every batch;
// the lanes' sample counts add up to what was queued.
TEST_F(TrainingSeriesTest, EachSeriesTakesTheLaneItsLabelsName) {
  std::vector<PendingPerformance> rows;
  for (int pod = 0; pod < 16; ++pod) {
    rows.push_back(
        row(documentOf(kHipLine), "63", kTimeUs, "pretrain-worker-" + std::to_string(pod)));
  }
  std::map<std::string, size_t> lanes_of;
  for (int batch = 0; batch < 2; ++batch) {
    const auto requests = encode(rows, {}, 4);
    size_t samples = 0;
    for (size_t lane = 0; lane < requests.size(); ++lane) {
      EXPECT_GT(requests[lane].timeseries_size(), 0) << "lane " << lane;
      size_t lane_samples = 0;
      for (const auto& series : requests[lane].timeseries()) {
        EXPECT_EQ(prompb::laneOfSeries(labelFields(series), 4), lane);
        const auto [known, inserted] = lanes_of.emplace(labelFields(series), lane);
        EXPECT_EQ(known->second, lane);
        lane_samples += static_cast<size_t>(series.samples_size());
      }
      EXPECT_EQ(lane_samples_[lane], lane_samples) << "lane " << lane;
      samples += lane_samples;
    }
    EXPECT_EQ(samples, 16u * 18);
    for (auto& one : rows) one.time_us += 10'000'000;
  }
  EXPECT_EQ(lanes_of.size(), 16u * 18);
  EXPECT_EQ(queued(), 2 * 16 * 18);
}

}  // namespace
}  // namespace tp::training
