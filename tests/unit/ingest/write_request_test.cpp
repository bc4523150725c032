// The wire decoder against protoc's generated classes (the reference codec), and its answers to
// malformed bodies.

#include "ingest/remote_write/write_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "remote_v1.pb.h"
#include "remote_v2.pb.h"

namespace tp::ingest {
namespace {

using ::testing::HasSubstr;

// Copies what the decoder hands out, for comparison after decoding.
struct CopiedSeries {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<double, int64_t>> samples;
  std::vector<std::string> histograms;
  std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, double>> exemplars;
  MetadataView metadata;
  std::string help;
};

class CollectingSink : public SeriesSink {
 public:
  absl::Status onSeries(const DecodedSeries& series) override {
    CopiedSeries copy;
    for (const auto& label : series.labels) copy.labels.emplace_back(label.name, label.value);
    for (const auto& sample : series.samples)
      copy.samples.emplace_back(sample.value, sample.timestamp);
    for (auto histogram : series.histograms) copy.histograms.emplace_back(histogram);
    for (const auto& exemplar : series.exemplars) {
      std::vector<std::pair<std::string, std::string>> labels;
      for (uint32_t i = exemplar.labels_begin; i < exemplar.labels_end; ++i) {
        labels.emplace_back(series.exemplar_labels[i].name, series.exemplar_labels[i].value);
      }
      copy.exemplars.emplace_back(labels, exemplar.value);
    }
    copy.metadata = series.metadata;
    copy.help = std::string(series.metadata.help);
    series_.push_back(std::move(copy));
    return absl::OkStatus();
  }
  absl::Status onMetadata(const MetadataView& metadata) override {
    metadata_.push_back(std::string(metadata.family_name) + "|" + std::string(metadata.help));
    return absl::OkStatus();
  }

  std::vector<CopiedSeries> series_;
  std::vector<std::string> metadata_;
};

prompb::WriteRequest sampleV1Request() {
  prompb::WriteRequest request;
  for (int s = 0; s < 3; ++s) {
    auto* series = request.add_timeseries();
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"__name__", "gpu_utilization"}, {"gpu_id", std::to_string(s)}, {"job", "exporter"}}) {
      auto* label = series->add_labels();
      label->set_name(name);
      label->set_value(value);
    }
    for (int i = 0; i < s + 1; ++i) {
      auto* sample = series->add_samples();
      sample->set_value(i * 1.5 - 1);
      sample->set_timestamp(1'700'000'000'000 + i * 15'000);
    }
  }
  auto* histogram = request.mutable_timeseries(0)->add_histograms();
  histogram->set_count_int(7);
  histogram->set_sum(3.5);
  histogram->set_schema(3);
  histogram->add_positive_deltas(2);
  histogram->set_timestamp(1'700'000'000'000);
  auto* exemplar = request.mutable_timeseries(1)->add_exemplars();
  exemplar->set_value(0.25);
  exemplar->set_timestamp(5);
  auto* trace = exemplar->add_labels();
  trace->set_name("trace_id");
  trace->set_value("abc");
  auto* metadata = request.add_metadata();
  metadata->set_type(prompb::MetricMetadata::GAUGE);
  metadata->set_metric_family_name("gpu_utilization");
  metadata->set_help("GPU busy percent");
  return request;
}

TEST(DecodeWriteRequest, V1MatchesTheReferenceCodec) {
  const prompb::WriteRequest request = sampleV1Request();
  const std::string body = request.SerializeAsString();
  CollectingSink sink;
  DecodeCounts counts;
  ASSERT_TRUE(decodeWriteRequest(body, RemoteWriteVersion::kV1, sink, &counts).ok());
  ASSERT_EQ(sink.series_.size(), static_cast<size_t>(request.timeseries_size()));
  EXPECT_EQ(counts.series, 3u);
  EXPECT_EQ(counts.samples, 6u);
  EXPECT_EQ(counts.histograms, 1u);
  EXPECT_EQ(counts.exemplars, 1u);
  for (int s = 0; s < request.timeseries_size(); ++s) {
    const auto& expected = request.timeseries(s);
    const auto& actual = sink.series_[s];
    ASSERT_EQ(actual.labels.size(), static_cast<size_t>(expected.labels_size()));
    for (int l = 0; l < expected.labels_size(); ++l) {
      EXPECT_EQ(actual.labels[l].first, expected.labels(l).name());
      EXPECT_EQ(actual.labels[l].second, expected.labels(l).value());
    }
    ASSERT_EQ(actual.samples.size(), static_cast<size_t>(expected.samples_size()));
    for (int i = 0; i < expected.samples_size(); ++i) {
      EXPECT_EQ(actual.samples[i].first, expected.samples(i).value());
      EXPECT_EQ(actual.samples[i].second, expected.samples(i).timestamp());
    }
    ASSERT_EQ(actual.histograms.size(), static_cast<size_t>(expected.histograms_size()));
    for (int h = 0; h < expected.histograms_size(); ++h) {
      prompb::Histogram parsed;
      ASSERT_TRUE(parsed.ParseFromString(actual.histograms[h]));
      EXPECT_EQ(parsed.SerializeAsString(), expected.histograms(h).SerializeAsString());
    }
  }
  ASSERT_EQ(sink.series_[1].exemplars.size(), 1u);
  EXPECT_EQ(sink.series_[1].exemplars[0].first[0].second, "abc");
  EXPECT_EQ(sink.series_[1].exemplars[0].second, 0.25);
  EXPECT_THAT(sink.metadata_, ::testing::ElementsAre("gpu_utilization|GPU busy percent"));
}

TEST(DecodeWriteRequest, V2ResolvesTheSymbolTable) {
  io::prometheus::write::v2::Request request;
  for (const char* symbol :
       {"", "__name__", "gpu_power", "gpu_id", "3", "help text", "trace_id", "t1", "watts"}) {
    request.add_symbols(symbol);
  }
  auto* series = request.add_timeseries();
  for (uint32_t ref : {1u, 2u, 3u, 4u}) series->add_labels_refs(ref);
  auto* sample = series->add_samples();
  sample->set_value(410.5);
  sample->set_timestamp(99);
  series->mutable_metadata()->set_type(io::prometheus::write::v2::Metadata::METRIC_TYPE_GAUGE);
  series->mutable_metadata()->set_help_ref(5);
  series->mutable_metadata()->set_unit_ref(8);
  auto* exemplar = series->add_exemplars();
  exemplar->add_labels_refs(6);
  exemplar->add_labels_refs(7);
  exemplar->set_value(1);
  series->add_histograms()->set_count_float(2.5);

  CollectingSink sink;
  DecodeCounts counts;
  ASSERT_TRUE(
      decodeWriteRequest(request.SerializeAsString(), RemoteWriteVersion::kV2, sink, &counts).ok());
  ASSERT_EQ(sink.series_.size(), 1u);
  const auto& actual = sink.series_[0];
  EXPECT_THAT(actual.labels,
              ::testing::ElementsAre(std::pair<std::string, std::string>("__name__", "gpu_power"),
                                     std::pair<std::string, std::string>("gpu_id", "3")));
  EXPECT_EQ(actual.samples[0], (std::pair<double, int64_t>(410.5, 99)));
  EXPECT_EQ(actual.metadata.type, 2u);
  EXPECT_EQ(actual.help, "help text");
  EXPECT_EQ(actual.exemplars[0].first[0].first, "trace_id");
  prompb::Histogram histogram;
  ASSERT_TRUE(histogram.ParseFromString(actual.histograms[0]));  // 2.0 histograms read as 1.0
  EXPECT_EQ(histogram.count_float(), 2.5);
  EXPECT_EQ(counts.histograms, 1u);
}

TEST(DecodeWriteRequest, V2SymbolsMayFollowTheSeries) {
  io::prometheus::write::v2::Request series_only;
  auto* series = series_only.add_timeseries();
  series->add_labels_refs(1);
  series->add_labels_refs(2);
  io::prometheus::write::v2::Request symbols_only;
  for (const char* symbol : {"", "__name__", "up"}) symbols_only.add_symbols(symbol);
  const std::string body = series_only.SerializeAsString() + symbols_only.SerializeAsString();
  CollectingSink sink;
  ASSERT_TRUE(decodeWriteRequest(body, RemoteWriteVersion::kV2, sink, nullptr).ok());
  EXPECT_EQ(sink.series_[0].labels[0].second, "up");
}

TEST(DecodeWriteRequest, EmptyBodyIsAnEmptyRequest) {
  CollectingSink sink;
  EXPECT_TRUE(decodeWriteRequest("", RemoteWriteVersion::kV1, sink, nullptr).ok());
  EXPECT_TRUE(decodeWriteRequest("", RemoteWriteVersion::kV2, sink, nullptr).ok());
  EXPECT_TRUE(sink.series_.empty());
}

TEST(DecodeWriteRequest, UnknownFieldsAreSkipped) {
  prompb::WriteRequest request = sampleV1Request();
  std::string body = request.SerializeAsString();
  body += std::string("\x78\x05", 2);        // field 15 varint
  body += std::string("\x82\x01\x02hi", 5);  // field 16 bytes
  CollectingSink sink;
  EXPECT_TRUE(decodeWriteRequest(body, RemoteWriteVersion::kV1, sink, nullptr).ok());
  EXPECT_EQ(sink.series_.size(), 3u);
}

std::string varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

std::string field(uint32_t number, std::string_view bytes) {
  return varint(number << 3 | 2) + varint(bytes.size()) + std::string(bytes);
}

std::string label(std::string_view name, std::string_view value) {
  return field(1, field(1, name) + field(2, value));
}

struct MalformedCase {
  const char* name;
  std::string body;
  RemoteWriteVersion version;
  const char* message;
};

class MalformedBodyTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedBodyTest, IsRejectedWithAReason) {
  const MalformedCase& param = GetParam();
  CollectingSink sink;
  const absl::Status status = decodeWriteRequest(param.body, param.version, sink, nullptr);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr(param.message));
}

const std::string kGoodSeries =
    field(1, label("__name__", "up") + field(2, std::string("\x09", 1) + std::string(8, '\0')));

INSTANTIATE_TEST_SUITE_P(
    Decoder, MalformedBodyTest,
    ::testing::Values(
        MalformedCase{"truncated_varint_key", std::string("\x8a", 1), RemoteWriteVersion::kV1,
                      "truncated varint"},
        MalformedCase{"length_beyond_body", std::string("\x0a\x7f", 2) + "abc",
                      RemoteWriteVersion::kV1, "length beyond the message"},
        MalformedCase{"huge_length", "\x0a" + varint(1ull << 40), RemoteWriteVersion::kV1,
                      "length beyond the message"},
        MalformedCase{"varint_too_long", std::string(11, '\xff'), RemoteWriteVersion::kV1,
                      "varint longer than 10 bytes"},
        MalformedCase{"field_zero", std::string("\x02\x00", 2), RemoteWriteVersion::kV1,
                      "field number 0"},
        MalformedCase{"wire_type_6", std::string("\x0e", 1), RemoteWriteVersion::kV1,
                      "unsupported wire type"},
        MalformedCase{"timeseries_as_varint", std::string("\x08\x01", 2), RemoteWriteVersion::kV1,
                      "cannot decode timeseries 0: wrong wire type"},
        MalformedCase{"empty_label_name", field(1, label("", "x")), RemoteWriteVersion::kV1,
                      "cannot decode timeseries 0: label name empty"},
        MalformedCase{"label_name_too_long", field(1, label(std::string(1025, 'n'), "x")),
                      RemoteWriteVersion::kV1,
                      "cannot decode timeseries 0: label name longer than 1024 bytes"},
        MalformedCase{"label_value_too_long", field(1, label("a", std::string(65537, 'v'))),
                      RemoteWriteVersion::kV1,
                      "cannot decode timeseries 0: label value longer than 65536 bytes"},
        MalformedCase{"too_many_labels",
                      [] {
                        std::string labels;
                        for (int i = 0; i < 257; ++i) labels += label("l" + std::to_string(i), "v");
                        return field(1, labels);
                      }(),
                      RemoteWriteVersion::kV1, "cannot decode timeseries 0: more than 256 labels"},
        MalformedCase{"v2_too_many_labels",
                      [] {
                        std::string refs;
                        for (int i = 0; i < 257; ++i) refs += varint(1) + varint(2);
                        return field(4, "") + field(4, "a") + field(4, "b") + field(5, field(1, refs));
                      }(),
                      RemoteWriteVersion::kV2, "more than 256 labels"},
        MalformedCase{"second_series_bad", kGoodSeries + field(1, label("", "x")),
                      RemoteWriteVersion::kV1, "cannot decode timeseries 1: label name empty"},
        MalformedCase{"label_as_varint", field(1, std::string("\x08\x01", 2)),
                      RemoteWriteVersion::kV1, "field has the wrong wire type"},
        MalformedCase{"label_name_as_varint", field(1, field(1, std::string("\x08\x01", 2))),
                      RemoteWriteVersion::kV1, "label field has the wrong wire type"},
        MalformedCase{"sample_value_as_varint", field(1, field(2, std::string("\x08\x01", 2))),
                      RemoteWriteVersion::kV1, "sample field has the wrong wire type"},
        MalformedCase{"sample_truncated_double", field(1, field(2, std::string("\x09\x01\x02", 3))),
                      RemoteWriteVersion::kV1, "truncated fixed64"},
        MalformedCase{"truncated_series", field(1, label("__name__", "up")).substr(0, 6),
                      RemoteWriteVersion::kV1, "length beyond the message"},
        MalformedCase{"exemplar_empty_label_name", field(1, field(3, label("", "t"))),
                      RemoteWriteVersion::kV1, "exemplar label name empty"},
        MalformedCase{"metadata_as_varint", std::string("\x18\x01", 2), RemoteWriteVersion::kV1,
                      "cannot decode metadata"},
        MalformedCase{"v2_ref_beyond_symbols",
                      field(4, "") + field(5, field(1, varint(7) + varint(0))),
                      RemoteWriteVersion::kV2, "label reference beyond the symbol table"},
        MalformedCase{"v2_odd_refs", field(4, "") + field(4, "a") + field(5, field(1, varint(1))),
                      RemoteWriteVersion::kV2, "odd number of label references"},
        MalformedCase{"v2_empty_name_symbol",
                      field(4, "") + field(4, "v") + field(5, field(1, varint(0) + varint(1))),
                      RemoteWriteVersion::kV2, "label name empty"},
        MalformedCase{"v2_symbol_as_varint", std::string("\x20\x01", 2), RemoteWriteVersion::kV2,
                      "cannot decode symbols: wrong wire type"},
        MalformedCase{"v2_series_as_varint", field(4, "") + std::string("\x28\x01", 2),
                      RemoteWriteVersion::kV2, "cannot decode timeseries 0: wrong wire type"},
        MalformedCase{"v2_truncated_refs",
                      field(4, "") + field(5, field(1, std::string("\x81", 1))),
                      RemoteWriteVersion::kV2, "truncated varint"},
        MalformedCase{"v2_help_ref_beyond",
                      field(4, "") + field(5, field(5, std::string("\x18\x09", 2))),
                      RemoteWriteVersion::kV2, "metadata reference beyond the symbol table"},
        MalformedCase{"v2_exemplar_odd_refs",
                      field(4, "") + field(4, "a") + field(5, field(4, field(1, varint(1)))),
                      RemoteWriteVersion::kV2, "exemplar has an odd number of label references"},
        MalformedCase{"garbage", "this is not protobuf at all", RemoteWriteVersion::kV1,
                      "cannot decode"}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

}  // namespace
}  // namespace tp::ingest
