// Splitting a request's encoded series into lanes: every series goes whole to one lane, the same
// series always to the same lane, metadata to lane 0, sample counts add up, malformed input is
// refused.

#include "forward/lanes.h"

#include <gtest/gtest.h>

#include <set>

#include "remote_v1.pb.h"

namespace tp::forward {
namespace {

prompb::WriteRequest request(int series, int samples_each, int64_t timestamp) {
  prompb::WriteRequest out;
  for (int k = 0; k < series; ++k) {
    auto* entry = out.add_timeseries();
    for (const auto& [name, value] :
         {std::pair<std::string, std::string>{"__name__", "up"}, {"k", std::to_string(k)}}) {
      auto* label = entry->add_labels();
      label->set_name(name);
      label->set_value(value);
    }
    for (int i = 0; i < samples_each; ++i) {
      auto* sample = entry->add_samples();
      sample->set_value(i);
      sample->set_timestamp(timestamp + i);
    }
  }
  return out;
}

// The lane each series k went to.
std::map<std::string, size_t> laneOfEachSeries(const LaneParts& parts) {
  std::map<std::string, size_t> lanes;
  for (size_t lane = 0; lane < parts.fields.size(); ++lane) {
    prompb::WriteRequest part;
    EXPECT_TRUE(part.ParseFromString(parts.fields[lane]));
    for (const auto& series : part.timeseries()) {
      EXPECT_TRUE(lanes.emplace(series.labels(1).value(), lane).second) << "series split";
    }
  }
  return lanes;
}

TEST(Lanes, EverySeriesGoesWholeToOneLaneAndSampleCountsAddUp) {
  const std::string fields = request(64, 3, 1000).SerializeAsString();
  LaneParts parts;
  ASSERT_TRUE(splitIntoLanes(fields, 4, parts).ok());
  ASSERT_EQ(parts.fields.size(), 4u);
  size_t bytes = 0;
  size_t samples = 0;
  std::set<size_t> used;
  for (size_t lane = 0; lane < 4; ++lane) {
    bytes += parts.fields[lane].size();
    samples += parts.samples[lane];
    if (!parts.fields[lane].empty()) used.insert(lane);
  }
  EXPECT_EQ(bytes, fields.size());
  EXPECT_EQ(samples, 64u * 3);
  EXPECT_EQ(laneOfEachSeries(parts).size(), 64u);
  EXPECT_EQ(used.size(), 4u) << "64 series should reach every lane";
}

TEST(Lanes, ASeriesKeepsItsLaneWhateverTheSamplesAndTheOtherSeries) {
  LaneParts first;
  ASSERT_TRUE(splitIntoLanes(request(32, 1, 1000).SerializeAsString(), 3, first).ok());
  LaneParts later;  // other timestamps and sample counts, fewer series, reused buffers
  ASSERT_TRUE(splitIntoLanes(request(20, 5, 9000).SerializeAsString(), 3, later).ok());
  const auto before = laneOfEachSeries(first);
  for (const auto& [series, lane] : laneOfEachSeries(later)) {
    EXPECT_EQ(before.at(series), lane) << "series k=" << series;
  }
  ASSERT_TRUE(splitIntoLanes(request(32, 1, 1000).SerializeAsString(), 3, later).ok());
  EXPECT_EQ(laneOfEachSeries(later), before);
}

TEST(Lanes, MetadataGoesToTheFirstLane) {
  prompb::WriteRequest with_metadata = request(8, 1, 0);
  auto* metadata = with_metadata.add_metadata();
  metadata->set_metric_family_name("up");
  metadata->set_help("whether the target is up");
  LaneParts parts;
  ASSERT_TRUE(splitIntoLanes(with_metadata.SerializeAsString(), 4, parts).ok());
  prompb::WriteRequest first;
  ASSERT_TRUE(first.ParseFromString(parts.fields[0]));
  ASSERT_EQ(first.metadata_size(), 1);
  EXPECT_EQ(first.metadata(0).help(), "whether the target is up");
}

TEST(Lanes, MalformedFieldsAreRefused) {
  const std::string fields = request(4, 1, 0).SerializeAsString();
  LaneParts parts;
  EXPECT_EQ(splitIntoLanes(fields.substr(0, fields.size() - 3), 2, parts).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(splitIntoLanes(std::string("\x08\x01", 2), 2, parts).code(),
            absl::StatusCode::kInvalidArgument);  // a varint field where series belong
  std::string bad_series = "\x0a\x02\x0a\x05";    // a series whose label runs past its end
  EXPECT_EQ(splitIntoLanes(bad_series, 2, parts).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tp::forward
