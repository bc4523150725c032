#include "ingest/fluentbit/log_batch.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ingest/fluentbit/gzip.h"
#include "support/compression.h"

namespace tp::ingest {
namespace {

struct Owned {
  int64_t time_us;
  std::string message, pod_name, pod_uid, namespace_name, host, container_name;
  bool has_kubernetes;
};

class CollectingSink : public LogRecordSink {
 public:
  void onRecord(const LogRecord& r) override {
    records.push_back({r.time_us, std::string(r.message), std::string(r.pod_name),
                       std::string(r.pod_uid), std::string(r.namespace_name), std::string(r.host),
                       std::string(r.container_name), r.has_kubernetes});
  }
  void onSkipped(size_t index, SkipReason reason) override { skipped.emplace_back(index, reason); }
  std::vector<Owned> records;
  std::vector<std::pair<size_t, SkipReason>> skipped;
};

absl::Status parse(std::string body, LogBatchFormat format, CollectingSink& sink,
                   LogBatchLimits limits = {}) {
  const size_t size = body.size();
  body.append(kLogBatchPadding, ' ');
  return parseLogBatch(std::string_view(body.data(), size), format, limits, sink);
}

constexpr const char* kRecord =
    R"({"date": 1761223152.123456, "stream": "stdout", "logtag": "F", "log": "raw line",
        "message": "the message",
        "kubernetes": {"pod_name": "p-0", "namespace_name": "ns", "pod_id": "uid-0",
                       "host": "node-1", "container_name": "c", "docker_id": "d",
                       "labels": {"training.kubeflow.org/job-name": "job-1"}}})";

TEST(LogBatchTest, ReadsFluentBitArrayRecordWithEveryField) {
  CollectingSink sink;
  ASSERT_TRUE(parse(std::string("[") + kRecord + "]", LogBatchFormat::kJsonArray, sink).ok());
  ASSERT_EQ(sink.records.size(), 1u);
  const Owned& record = sink.records[0];
  EXPECT_EQ(record.time_us, 1761223152123456);
  EXPECT_EQ(record.message, "the message");
  EXPECT_TRUE(record.has_kubernetes);
  EXPECT_EQ(record.pod_name, "p-0");
  EXPECT_EQ(record.pod_uid, "uid-0");
  EXPECT_EQ(record.namespace_name, "ns");
  EXPECT_EQ(record.host, "node-1");
  EXPECT_EQ(record.container_name, "c");
}

TEST(LogBatchTest, UsesLogWhenMessageIsEmptyAndUnescapesStrings) {
  CollectingSink sink;
  ASSERT_TRUE(parse(R"([{"message": "", "log": "a \"quoted\"\tline\u00e9", "date": 1}])",
                    LogBatchFormat::kJsonArray, sink)
                  .ok());
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].message, "a \"quoted\"\tline\xc3\xa9");
  EXPECT_EQ(sink.records[0].time_us, 1'000'000);
  EXPECT_FALSE(sink.records[0].has_kubernetes);
}

TEST(LogBatchTest, DateIsExactToTheMicrosecond) {
  int64_t time = 0;
  EXPECT_TRUE(parseLogTime("1761223152.000001", false, &time));
  EXPECT_EQ(time, 1761223152000001);
  EXPECT_TRUE(parseLogTime("1761223152.9999999", false, &time));  // digits beyond ignored
  EXPECT_EQ(time, 1761223152999999);
  EXPECT_TRUE(parseLogTime("1761223152.5", false, &time));
  EXPECT_EQ(time, 1761223152500000);
  EXPECT_TRUE(parseLogTime("1761223152", false, &time));
  EXPECT_EQ(time, 1761223152000000);
  EXPECT_TRUE(parseLogTime("1.761223152e9", false, &time));
  EXPECT_EQ(time, 1761223152000000);
  EXPECT_TRUE(parseLogTime("2025-10-23T12:39:12.000681Z", true, &time));
  EXPECT_EQ(time, 1761223152000681);
  EXPECT_TRUE(parseLogTime("2025-10-23T12:39:12Z", true, &time));
  EXPECT_EQ(time, 1761223152000000);
  EXPECT_FALSE(parseLogTime("-5", false, &time));
  EXPECT_FALSE(parseLogTime("1e300", false, &time));
  EXPECT_FALSE(parseLogTime("2025-13-23T12:39:12Z", true, &time));
  EXPECT_FALSE(parseLogTime("2025-10-23T12:39:12", true, &time));  // no zone
  EXPECT_FALSE(parseLogTime("yesterday", true, &time));
}

TEST(LogBatchTest, DatesOutsideTheYearsADatabaseStoresAreInvalid) {
  int64_t time = 0;
  EXPECT_TRUE(parseLogTime("253402300799.999999", false, &time));  // 9999-12-31T23:59:59.999999
  EXPECT_FALSE(parseLogTime("253402300800", false, &time));        // year 10000
  EXPECT_FALSE(parseLogTime("999999999999", false, &time));
  EXPECT_FALSE(parseLogTime("9.9e11", false, &time));
  EXPECT_TRUE(parseLogTime("1970-01-01T00:00:00Z", true, &time));
  EXPECT_EQ(time, 0);
  EXPECT_FALSE(parseLogTime("1969-12-31T23:59:59Z", true, &time));
  EXPECT_FALSE(parseLogTime("0001-01-01T00:00:00Z", true, &time));
  CollectingSink sink;
  ASSERT_TRUE(parse(R"([{"date": 253402300800, "log": "x"}, {"date": 1, "log": "y"}])",
                    LogBatchFormat::kJsonArray, sink)
                  .ok());
  EXPECT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.skipped.size(), 1u);
}

TEST(LogBatchTest, BadRecordsAreSkippedWithReasonAndTheRestIsRead) {
  CollectingSink sink;
  ASSERT_TRUE(parse(R"([
      {"log": "no date"},
      {"date": "not a time", "log": "x"},
      {"date": true, "log": "x"},
      {"date": 1, "log": 42},
      {"date": 1, "log": "x", "kubernetes": {"pod_name": 7}},
      {"date": 1, "log": "x", "kubernetes": "node"},
      "a string",
      [1, 2],
      {"date": 2, "log": "good", "kubernetes": null, "extra": {"deep": [1, {"x": null}]}}
    ])",
                    LogBatchFormat::kJsonArray, sink)
                  .ok());
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].message, "good");
  EXPECT_FALSE(sink.records[0].has_kubernetes);
  const std::vector<std::pair<size_t, SkipReason>> expected = {
      {0, SkipReason::kInvalidDate}, {1, SkipReason::kInvalidDate}, {2, SkipReason::kInvalidDate},
      {3, SkipReason::kWrongType},   {4, SkipReason::kWrongType},   {5, SkipReason::kWrongType},
      {6, SkipReason::kNotAnObject}, {7, SkipReason::kNotAnObject}};
  EXPECT_EQ(sink.skipped, expected);
}

TEST(LogBatchTest, ReadsJsonLinesSkippingBlankLines) {
  CollectingSink sink;
  ASSERT_TRUE(parse("{\"date\": 1, \"log\": \"one\"}\n\n  {\"date\": 2, \"log\": \"two\"}\r\n"
                    "{\"log\": \"no date\"}\n{\"date\": 3, \"log\": \"three\"}",
                    LogBatchFormat::kJsonLines, sink)
                  .ok());
  ASSERT_EQ(sink.records.size(), 3u);
  EXPECT_EQ(sink.records[0].message, "one");
  EXPECT_EQ(sink.records[1].message, "two");
  EXPECT_EQ(sink.records[2].message, "three");
  ASSERT_EQ(sink.skipped.size(), 1u);
  EXPECT_EQ(sink.skipped[0].second, SkipReason::kInvalidDate);
}

TEST(LogBatchTest, TruncatedBatchNamesTheByteWhereItEnded) {
  const auto message = [](const std::string& body, LogBatchFormat format) {
    CollectingSink sink;
    const absl::Status status = parse(body, format, sink);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    return std::string(status.message());
  };
  EXPECT_EQ(message(R"([{"log":"a"},{"log":"b)", LogBatchFormat::kJsonArray),
            "invalid JSON at byte 22: A string is opened, but never closed.");
  EXPECT_EQ(message(R"([{"date": 1, "log": "x"},)", LogBatchFormat::kJsonArray),
            "invalid JSON at byte 25: JSON document ended early in the middle of an object or "
            "array.");
  EXPECT_EQ(message("{\"date\": 1}\n{\"date\": 2, \"log\": \"b", LogBatchFormat::kJsonLines),
            "invalid JSON on line 2 at byte 21: A string is opened, but never closed.");
  EXPECT_EQ(message("{\"date\": 1}\n{\"date\": [1,\n", LogBatchFormat::kJsonLines),
            "invalid JSON on line 2 at byte 12: JSON document ended early in the middle of an "
            "object or array.");
}

TEST(LogBatchTest, ThreadParserIsReleasedAfterALargeBody) {
  CollectingSink sink;
  ASSERT_TRUE(parse(std::string("[") + kRecord + "]", LogBatchFormat::kJsonArray, sink).ok());
  EXPECT_GT(logParserCapacity(), 0u);  // kept for the next request on this thread
  const std::string record = R"({"date": 1, "log": ")" + std::string(100'000, 'x') + "\"}";
  std::string large = "[" + record;
  while (large.size() < 3 * kLogParserKeepCapacity) large += "," + record;
  large += "]";
  ASSERT_TRUE(parse(large, LogBatchFormat::kJsonArray, sink).ok());
  EXPECT_LE(logParserCapacity(), kLogParserKeepCapacity);
}

struct MalformedCase {
  const char* name;
  std::string body;
  LogBatchFormat format;
  absl::StatusCode code;
  const char* message_part;
};

std::string nested(size_t depth, const std::string& open, const std::string& close) {
  std::string text;
  for (size_t i = 0; i < depth; ++i) text += open;
  for (size_t i = 0; i < depth; ++i) text += close;
  return text;
}

class MalformedBatchTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedBatchTest, IsRefusedWithAReason) {
  const MalformedCase& test = GetParam();
  CollectingSink sink;
  LogBatchLimits limits;
  limits.max_string_bytes = 1000;
  const absl::Status status = parse(test.body, test.format, sink, limits);
  EXPECT_EQ(status.code(), test.code) << status;
  EXPECT_NE(status.message().find(test.message_part), std::string::npos) << status.message();
}

const auto kArray = LogBatchFormat::kJsonArray;
const auto kLines = LogBatchFormat::kJsonLines;
const auto kBad = absl::StatusCode::kInvalidArgument;

INSTANTIATE_TEST_SUITE_P(
    Bodies, MalformedBatchTest,
    ::testing::Values(
        MalformedCase{"not_json", "hello", kArray, kBad, "invalid JSON"},
        MalformedCase{"object_not_array", R"({"date": 1, "log": "x"})", kArray, kBad,
                      "expected a JSON array"},
        MalformedCase{"empty", "   ", kArray, kBad, "empty body"},
        MalformedCase{"truncated_array", R"([{"date": 1, "log": "x"},)", kArray, kBad,
                      "invalid JSON"},
        MalformedCase{"truncated_string", R"([{"date": 1, "log": "abc)", kArray, kBad,
                      "invalid JSON"},
        MalformedCase{"unclosed_object", R"([{"date": 1, "log": "x")", kArray, kBad,
                      "invalid JSON"},
        MalformedCase{"trailing_garbage", R"([{"date": 1}] xyz)", kArray, kBad, "invalid JSON"},
        MalformedCase{"second_array", R"([{"date": 1}] [])", kArray, kBad, "after the array"},
        MalformedCase{"invalid_utf8", "[{\"date\": 1, \"log\": \"\xff\xfe\"}]", kArray, kBad,
                      "UTF-8"},
        MalformedCase{"deep_array", "[" + nested(10'000, "[", "]") + "]", kArray, kBad,
                      "nested deeper"},
        MalformedCase{"deep_in_record",
                      R"([{"date": 1, "x": )" + nested(100, "{\"a\":", "}") + "1}]", kArray, kBad,
                      "invalid JSON"},
        MalformedCase{"deep_object_in_record",
                      R"([{"date": 1, "x": )" + nested(100, "[", "]") + "}]", kArray, kBad,
                      "nested deeper"},
        MalformedCase{"huge_string", R"([{"date": 1, "log": ")" + std::string(5000, 'a') + "\"}]",
                      kArray, absl::StatusCode::kResourceExhausted, "exceeds the limit"},
        MalformedCase{"bad_escape", R"([{"date": 1, "log": "\q"}])", kArray, kBad, "invalid JSON"},
        MalformedCase{"missing_colon", R"([{"date" 1}])", kArray, kBad, "invalid JSON"},
        MalformedCase{"nul_byte", std::string("[{\"date\": 1,\0 \"log\": \"x\"}]", 25), kArray,
                      kBad, "invalid JSON"},
        MalformedCase{"lines_broken_second", "{\"date\": 1}\n{\"date\": ", kLines, kBad, "line 2"},
        MalformedCase{"lines_two_values", "{\"date\": 1} {\"date\": 2}", kLines, kBad,
                      "more than one value"},
        MalformedCase{"lines_not_json", "{\"date\": 1}\nplain text\n", kLines, kBad, "line 2"},
        MalformedCase{"deep_lines", nested(10'000, "[", "]"), kLines, kBad, "nested deeper"}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

TEST(GzipTest, InflatesWithPadding) {
  const std::string text(100'000, 'x');
  std::string out;
  auto size = inflateGzip(testing::gzipCompress(text), 1 << 20, 64, out);
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_EQ(*size, text.size());
  EXPECT_GE(out.size(), text.size() + 64);
  EXPECT_EQ(out.substr(0, *size), text);
}

TEST(GzipTest, BombStopsAtTheCap) {
  const std::string bomb = testing::gzipCompress(std::string(64 << 20, '\0'));  // 64 MiB -> ~64 KiB
  std::string out;
  auto size = inflateGzip(bomb, 1 << 20, 64, out);
  ASSERT_EQ(size.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(size.status().message().find("http.maxDecodedBytes"), std::string::npos);
  EXPECT_LE(out.capacity(), (2u << 20) + 64);
}

TEST(GzipTest, CorruptAndTruncatedAreInvalid) {
  std::string out;
  const std::string good = testing::gzipCompress("hello world hello world");
  EXPECT_EQ(inflateGzip(good.substr(0, good.size() / 2), 1 << 20, 0, out).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(inflateGzip("not gzip at all", 1 << 20, 0, out).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(inflateGzip(good + "junk", 1 << 20, 0, out).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tp::ingest
