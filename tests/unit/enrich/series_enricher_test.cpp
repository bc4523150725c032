// Golden tests of the enrichment rules (support/enrich_golden.h): each file in
// tests/golden/enrich/ holds a cluster state, input series, the rule that finds each one's pod
// and the exact expected output series (in any order). Plus histograms, exemplars and metadata,
// which the text format does not carry.

#include "enrich/series_enricher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "prompb/lane.h"
#include "remote_v1.pb.h"
#include "remote_v2.pb.h"
#include "support/enrich_golden.h"
#include "support/remote_write_bodies.h"

namespace tp::enrich {
namespace {

using Labels = testing::GoldenLabels;
using testing::GoldenCase;

std::string canonical(const ::prompb::TimeSeries& series) {
  std::ostringstream out;
  out << "{";
  for (int i = 0; i < series.labels_size(); ++i) {
    out << (i ? "," : "") << series.labels(i).name() << "=\"" << series.labels(i).value() << "\"";
  }
  out << "}";
  for (const auto& sample : series.samples())
    out << " " << sample.value() << "@" << sample.timestamp();
  return out.str();
}

::prompb::WriteRequest enrichV1(const cache::ClusterSnapshot& snapshot, const std::string& body,
                                EnrichCounts* counts) {
  prompb::OutputBuffer out;
  SeriesEnricher enricher(snapshot, out);
  const absl::Status status =
      ingest::decodeWriteRequest(body, ingest::RemoteWriteVersion::kV1, enricher, nullptr);
  EXPECT_TRUE(status.ok()) << status;
  if (counts != nullptr) *counts = enricher.counts();
  ::prompb::WriteRequest output;
  EXPECT_TRUE(output.ParseFromString(std::string(out.view())))
      << "output is not a valid WriteRequest";
  return output;
}

TEST(EnrichGolden, EveryFileMatches) {
  size_t files = 0;
  for (auto& [file, golden_case] : testing::goldenEnrichCases(TP_GOLDEN_DIR)) {
    ++files;
    SCOPED_TRACE(file);
    GoldenCase& golden = *golden_case;
    const auto snapshot = golden.builder.build();
    EnrichCounts counts;
    const ::prompb::WriteRequest output =
        enrichV1(*snapshot, golden.input.SerializeAsString(), &counts);
    std::vector<std::string> actual;
    for (const auto& series : output.timeseries()) {
      actual.push_back(canonical(series));
      for (int i = 1; i < series.labels_size(); ++i) {
        EXPECT_LT(series.labels(i - 1).name(), series.labels(i).name()) << "labels not sorted";
      }
    }
    std::sort(actual.begin(), actual.end());
    std::sort(golden.expected.begin(), golden.expected.end());
    EXPECT_EQ(actual, golden.expected);
    for (const auto& [reason, series, samples] : golden.dropped) {
      const auto it = std::find(kDropReasonNames.begin(), kDropReasonNames.end(), reason);
      ASSERT_NE(it, kDropReasonNames.end()) << reason;
      const size_t index = static_cast<size_t>(it - kDropReasonNames.begin());
      EXPECT_EQ(counts.dropped_series[index], series) << reason;
      EXPECT_EQ(counts.dropped_samples[index], samples) << reason;
    }
  }
  EXPECT_GE(files, 3u);
}

cache::SnapshotBuilder onePodCluster() {
  cache::SnapshotBuilder builder;
  builder.addDevice({"node-a", "train-0", "pod-uid", "gpu", "card0", 0});
  builder.addWorkloadPod({"train-0", "pod-uid", "job", "job-uid", ""});
  return builder;
}

TEST(Enrich, CarriesHistogramsExemplarsAndMetadata) {
  auto builder = onePodCluster();
  const auto snapshot = builder.build();
  ::prompb::WriteRequest input;
  auto* series = input.add_timeseries();
  for (const auto& [name, value] :
       Labels{{"__name__", "latency"}, {"gpu_id", "0"}, {"primus_lens_node_name", "node-a"}}) {
    auto* label = series->add_labels();
    label->set_name(name);
    label->set_value(value);
  }
  auto* histogram = series->add_histograms();
  histogram->set_count_int(9);
  histogram->set_schema(2);
  histogram->add_positive_deltas(-3);
  histogram->set_timestamp(77);
  auto* exemplar = series->add_exemplars();
  exemplar->set_value(0.5);
  exemplar->set_timestamp(76);
  exemplar->add_labels()->set_name("trace_id");
  exemplar->mutable_labels(0)->set_value("t-1");
  auto* metadata = input.add_metadata();
  metadata->set_type(::prompb::MetricMetadata::HISTOGRAM);
  metadata->set_metric_family_name("latency");
  metadata->set_help("how long");

  EnrichCounts counts;
  const auto output = enrichV1(*snapshot, input.SerializeAsString(), &counts);
  ASSERT_EQ(output.timeseries_size(), 1);
  EXPECT_EQ(output.timeseries(0).histograms(0).SerializeAsString(), histogram->SerializeAsString());
  EXPECT_EQ(output.timeseries(0).exemplars(0).SerializeAsString(), exemplar->SerializeAsString());
  EXPECT_EQ(output.timeseries(0).samples_size(), 0);
  ASSERT_EQ(output.metadata_size(), 1);
  EXPECT_EQ(output.metadata(0).metric_family_name(), "workload_latency");
  EXPECT_EQ(output.metadata(0).help(), "how long");
  EXPECT_EQ(counts.histograms_out, 1u);
  EXPECT_EQ(counts.exemplars_out, 1u);
}

TEST(Enrich, V2InputBecomesV1OutputWithMetadataOncePerFamily) {
  auto builder = onePodCluster();
  const auto snapshot = builder.build();
  io::prometheus::write::v2::Request request;
  for (const char* symbol : {"", "__name__", "gpu_power", "gpu_id", "0", "primus_lens_node_name",
                             "node-a", "watts consumed", "trace_id", "t-9"}) {
    request.add_symbols(symbol);
  }
  for (int i = 0; i < 2; ++i) {
    auto* series = request.add_timeseries();
    for (uint32_t ref : {1u, 2u, 3u, 4u, 5u, 6u}) series->add_labels_refs(ref);
    auto* sample = series->add_samples();
    sample->set_value(100 + i);
    sample->set_timestamp(1000 + i);
    series->mutable_metadata()->set_type(io::prometheus::write::v2::Metadata::METRIC_TYPE_GAUGE);
    series->mutable_metadata()->set_help_ref(7);
    auto* exemplar = series->add_exemplars();
    exemplar->add_labels_refs(8);
    exemplar->add_labels_refs(9);
    exemplar->set_value(3);
  }
  prompb::OutputBuffer out;
  SeriesEnricher enricher(*snapshot, out);
  ASSERT_TRUE(ingest::decodeWriteRequest(request.SerializeAsString(),
                                         ingest::RemoteWriteVersion::kV2, enricher, nullptr)
                  .ok());
  ::prompb::WriteRequest output;
  ASSERT_TRUE(output.ParseFromString(std::string(out.view())));
  ASSERT_EQ(output.timeseries_size(), 2);
  EXPECT_EQ(canonical(output.timeseries(1)),
            "{__name__=\"workload_gpu_power\",gpu_id=\"0\",job=\"primus-lens-telemetry-processor\","
            "pod_name=\"train-0\",pod_uid=\"pod-uid\",primus_lens_node_name=\"node-a\","
            "workload_name=\"job\",workload_uid=\"job-uid\"} 101@1001");
  EXPECT_EQ(output.timeseries(0).exemplars(0).labels(0).value(), "t-9");
  ASSERT_EQ(output.metadata_size(), 1);
  EXPECT_EQ(output.metadata(0).metric_family_name(), "workload_gpu_power");
  EXPECT_EQ(output.metadata(0).help(), "watts consumed");
  EXPECT_EQ(output.metadata(0).type(), ::prompb::MetricMetadata::GAUGE);
}

// A 2.0 body whose `series` series each carry `labels` labels, all valued by one symbol of
// `symbol_bytes` bytes: small in, huge out once the symbols are resolved.
std::string amplifyingV2Body(size_t series, size_t labels, size_t symbol_bytes) {
  io::prometheus::write::v2::Request request;
  for (const char* symbol :
       {"", "__name__", "gpu_power", "gpu_id", "0", "primus_lens_node_name", "node-a"}) {
    request.add_symbols(symbol);
  }
  const uint32_t big = static_cast<uint32_t>(request.symbols_size());
  request.add_symbols(std::string(symbol_bytes, 'x'));
  for (size_t i = 0; i < labels; ++i) request.add_symbols("l" + std::to_string(1000 + i));
  for (size_t s = 0; s < series; ++s) {
    auto* out = request.add_timeseries();
    for (uint32_t ref : {1u, 2u, 3u, 4u, 5u, 6u}) out->add_labels_refs(ref);
    for (size_t i = 0; i < labels; ++i) {
      out->add_labels_refs(big + 1 + static_cast<uint32_t>(i));
      out->add_labels_refs(big);
    }
    auto* sample = out->add_samples();
    sample->set_value(1);
    sample->set_timestamp(static_cast<int64_t>(s));
  }
  return request.SerializeAsString();
}

absl::Status enrichBody(const cache::ClusterSnapshot& snapshot, const std::string& body,
                        ingest::RemoteWriteVersion version, EnrichLimits limits,
                        prompb::OutputBuffer& out) {
  SeriesEnricher enricher(snapshot, out, limits);
  return ingest::decodeWriteRequest(body, version, enricher, nullptr);
}

TEST(EnrichLimits, OneSymbolAsEveryLabelValueIsRefusedBeforeItIsWritten) {
  const auto snapshot = onePodCluster().build();
  const std::string body = amplifyingV2Body(1, 250, 60 << 10);
  ASSERT_LT(body.size(), 80u << 10);
  prompb::OutputBuffer out;
  const absl::Status status =
      enrichBody(*snapshot, body, ingest::RemoteWriteVersion::kV2, EnrichLimits{}, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("http.maxSeriesLabelBytes"));
  EXPECT_EQ(out.size(), 0u) << "nothing of the refused series is written";
}

TEST(EnrichLimits, RequestOutputStopsAtItsLimit) {
  const auto snapshot = onePodCluster().build();
  // Each series resolves to about 20 KB, within the per-series limit; 100 of them are not.
  const std::string body = amplifyingV2Body(100, 10, 2 << 10);
  const EnrichLimits limits{.max_output_bytes = 256 << 10, .max_series_label_bytes = 64 << 10};
  prompb::OutputBuffer out;
  const absl::Status status =
      enrichBody(*snapshot, body, ingest::RemoteWriteVersion::kV2, limits, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("http.maxEnrichedBytes"));
  EXPECT_LE(out.size(), limits.max_output_bytes);

  prompb::OutputBuffer within;
  EXPECT_TRUE(enrichBody(*snapshot, amplifyingV2Body(5, 10, 2 << 10),
                         ingest::RemoteWriteVersion::kV2, limits, within)
                  .ok());
  EXPECT_GT(within.size(), 5u * 20'000);
}

TEST(EnrichLimits, PodOwnedByManyWorkloadsIsBoundedInV1) {
  cache::SnapshotBuilder builder;
  builder.addDevice({"node-a", "train-0", "pod-uid", "gpu", "card0", 0});
  for (int i = 0; i < 2000; ++i) {
    builder.addWorkloadPod(
        {"train-0", "pod-uid", "job-" + std::to_string(i), "job-uid-" + std::to_string(i), ""});
  }
  const auto snapshot = builder.build();
  ::prompb::WriteRequest input;
  for (int s = 0; s < 50; ++s) {
    auto* series = input.add_timeseries();
    for (const auto& [name, value] : Labels{{"__name__", "gpu_power"},
                                            {"gpu_id", "0"},
                                            {"primus_lens_node_name", "node-a"},
                                            {"series", std::to_string(s)}}) {
      auto* label = series->add_labels();
      label->set_name(name);
      label->set_value(value);
    }
    auto* sample = series->add_samples();
    sample->set_value(1);
    sample->set_timestamp(s);
  }
  const EnrichLimits limits{.max_output_bytes = 1 << 20, .max_series_label_bytes = 64 << 10};
  prompb::OutputBuffer out;
  const absl::Status status = enrichBody(*snapshot, input.SerializeAsString(),
                                         ingest::RemoteWriteVersion::kV1, limits, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_LE(out.size(), limits.max_output_bytes);
}

TEST(EnrichLimits, MetadataOfEveryFamilyIsWrittenOnce) {
  const auto snapshot = onePodCluster().build();
  io::prometheus::write::v2::Request request;
  for (const char* symbol :
       {"", "__name__", "gpu_id", "0", "primus_lens_node_name", "node-a", "help text"}) {
    request.add_symbols(symbol);
  }
  constexpr int kFamilies = 3000;
  for (int i = 0; i < kFamilies; ++i) {
    request.add_symbols("metric_" + std::to_string(i));
  }
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kFamilies; ++i) {
      auto* series = request.add_timeseries();
      for (uint32_t ref : {1u, 7u + static_cast<uint32_t>(i), 2u, 3u, 4u, 5u}) {
        series->add_labels_refs(ref);
      }
      auto* sample = series->add_samples();
      sample->set_value(1);
      sample->set_timestamp(round);
      series->mutable_metadata()->set_type(io::prometheus::write::v2::Metadata::METRIC_TYPE_GAUGE);
      series->mutable_metadata()->set_help_ref(6);
    }
  }
  prompb::OutputBuffer out;
  ASSERT_TRUE(enrichBody(*snapshot, request.SerializeAsString(), ingest::RemoteWriteVersion::kV2,
                         EnrichLimits{}, out)
                  .ok());
  ::prompb::WriteRequest output;
  ASSERT_TRUE(output.ParseFromString(std::string(out.view())));
  EXPECT_EQ(output.timeseries_size(), 2 * kFamilies);
  EXPECT_EQ(output.metadata_size(), kFamilies);
}

// `series` series k="0".. of gpu_power on the one pod's GPU, `samples_each` samples each from
// `timestamp`, and their family's metadata.
::prompb::WriteRequest gpuPowerRequest(int series, int samples_each, int64_t timestamp) {
  ::prompb::WriteRequest request =
      tp::testing::gpuSeriesRequest("gpu_power", series, samples_each, timestamp);
  auto* metadata = request.add_metadata();
  metadata->set_metric_family_name("gpu_power");
  metadata->set_help("watts consumed");
  return request;
}

// What the enricher writes into `lanes` lanes, each lane parsed, and the samples of each.
struct EnrichedLanes {
  std::vector<::prompb::WriteRequest> parts;
  std::vector<size_t> samples;
  size_t bytes = 0;
};

EnrichedLanes enrichIntoLanes(const cache::ClusterSnapshot& snapshot,
                              const ::prompb::WriteRequest& request, size_t lanes) {
  std::vector<prompb::OutputBuffer> out(lanes);
  SeriesEnricher enricher(snapshot, out);
  EXPECT_TRUE(ingest::decodeWriteRequest(request.SerializeAsString(),
                                         ingest::RemoteWriteVersion::kV1, enricher, nullptr)
                  .ok());
  EnrichedLanes enriched;
  enriched.samples.assign(enricher.laneSamples().begin(), enricher.laneSamples().end());
  for (const prompb::OutputBuffer& lane : out) {
    EXPECT_TRUE(enriched.parts.emplace_back().ParseFromString(std::string(lane.view())));
    enriched.bytes += lane.size();
  }
  return enriched;
}

// The label fields of a TimeSeries as the enricher writes them (no label value is empty here, so
// protobuf writes every field too): what names its lane.
std::string labelFields(const ::prompb::TimeSeries& series) {
  ::prompb::TimeSeries labels_only;
  *labels_only.mutable_labels() = series.labels();
  return labels_only.SerializeAsString();
}

std::string labelsOf(const ::prompb::TimeSeries& series) {
  return canonical(series).substr(0, canonical(series).find('}') + 1);
}

// The lanes hold what one lane holds, cut by series: each series whole in the lane its labels
// name, in the order written, metadata in the first; sample counts per lane add up.
TEST(EnrichLanes, LanesHoldTheOneLaneOutputCutBySeries) {
  const auto snapshot = onePodCluster().build();
  const ::prompb::WriteRequest request = gpuPowerRequest(64, 3, 1000);
  const EnrichedLanes whole = enrichIntoLanes(*snapshot, request, 1);
  const EnrichedLanes cut = enrichIntoLanes(*snapshot, request, 4);
  ASSERT_EQ(whole.parts[0].timeseries_size(), 64);
  EXPECT_EQ(cut.bytes, whole.bytes);
  std::vector<std::vector<std::string>> expected(4);
  for (const auto& series : whole.parts[0].timeseries()) {
    expected[prompb::laneOfSeries(labelFields(series), 4)].push_back(canonical(series));
  }
  size_t samples = 0;
  for (size_t lane = 0; lane < 4; ++lane) {
    std::vector<std::string> actual;
    for (const auto& series : cut.parts[lane].timeseries()) actual.push_back(canonical(series));
    EXPECT_EQ(actual, expected[lane]) << "lane " << lane;
    EXPECT_FALSE(actual.empty()) << "64 series should reach every lane";
    EXPECT_EQ(cut.samples[lane], 3 * actual.size()) << "lane " << lane;
    EXPECT_EQ(cut.parts[lane].metadata_size(), lane == 0 ? 1 : 0) << "lane " << lane;
    samples += cut.samples[lane];
  }
  EXPECT_EQ(samples, whole.samples[0]);
}

TEST(EnrichLanes, ASeriesKeepsItsLaneWhateverTheSamplesAndTheOtherSeries) {
  const auto snapshot = onePodCluster().build();
  const auto lanesOf = [&](const ::prompb::WriteRequest& request) {
    std::map<std::string, size_t> lanes;
    const EnrichedLanes cut = enrichIntoLanes(*snapshot, request, 3);
    for (size_t lane = 0; lane < cut.parts.size(); ++lane) {
      for (const auto& series : cut.parts[lane].timeseries()) lanes[labelsOf(series)] = lane;
    }
    return lanes;
  };
  const auto first = lanesOf(gpuPowerRequest(32, 1, 1000));
  ASSERT_EQ(first.size(), 32u);
  // Other timestamps and sample counts, fewer series, buffers reused by the thread.
  for (const auto& [series, lane] : lanesOf(gpuPowerRequest(20, 5, 9000))) {
    EXPECT_EQ(first.at(series), lane) << series;
  }
  EXPECT_EQ(lanesOf(gpuPowerRequest(32, 1, 1000)), first);
}

// The lanes the forwarder cut series {__name__="up",k="0".."31"} into, three lanes, before the
// enricher cut them itself: batches queued by an earlier release are in these lanes, so a series
// must keep its lane.
TEST(EnrichLanes, ASeriesTakesTheLaneEarlierReleasesQueuedItIn) {
  constexpr std::array<size_t, 32> kLanesOfEarlierReleases = {0, 0, 2, 1, 0, 0, 1, 1, 0, 2, 2,
                                                              1, 0, 2, 1, 0, 2, 2, 2, 0, 0, 2,
                                                              0, 0, 2, 1, 2, 1, 0, 2, 0, 2};
  for (int k = 0; k < 32; ++k) {
    ::prompb::TimeSeries series;
    for (const auto& [name, value] : Labels{{"__name__", "up"}, {"k", std::to_string(k)}}) {
      auto* label = series.add_labels();
      label->set_name(name);
      label->set_value(value);
    }
    EXPECT_EQ(prompb::laneOfSeries(labelFields(series), 3), kLanesOfEarlierReleases[k])
        << "k=" << k;
  }
}

}  // namespace
}  // namespace tp::enrich
