#include "ingest/fluentbit/content_type.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace tp::ingest {
namespace {

using ::testing::HasSubstr;

std::string messageOf(const absl::Status& status) { return std::string(status.message()); }

TEST(ParseLogEncoding, KnowsGzipUnderItsNamesAndNone) {
  for (const char* gzip : {"gzip", " x-gzip ", "deflate"}) {
    const auto encoding = parseLogEncoding(gzip);
    ASSERT_TRUE(encoding.ok()) << gzip << ": " << encoding.status();
    EXPECT_EQ(*encoding, LogEncoding::kGzip) << gzip;
  }
  for (const char* none : {"", "identity", "  "}) {
    const auto encoding = parseLogEncoding(none);
    ASSERT_TRUE(encoding.ok()) << '\'' << none << "': " << encoding.status();
    EXPECT_EQ(*encoding, LogEncoding::kIdentity) << none;
  }
}

TEST(ParseLogEncoding, RefusesOtherEncodingsNamingThem) {
  for (const char* other : {"br", "zstd", "gzip, br", "snappy"}) {
    const auto encoding = parseLogEncoding(other);
    ASSERT_FALSE(encoding.ok()) << other;
    EXPECT_EQ(encoding.status().code(), absl::StatusCode::kUnimplemented) << other;
    EXPECT_THAT(messageOf(encoding.status()),
                HasSubstr(std::string("unsupported Content-Encoding '") + other + "'"));
    EXPECT_THAT(messageOf(encoding.status()), HasSubstr("use gzip or none"));
  }
}

TEST(SelectLogBatchFormat, ContentTypeSelectsTheFormat) {
  EXPECT_EQ(*selectLogBatchFormat("application/json", "[]"), LogBatchFormat::kJsonArray);
  // Fluent Bit's `format json` is an array: a lone object gets the parser's hint to use ndjson.
  EXPECT_EQ(*selectLogBatchFormat("application/json", "{}"), LogBatchFormat::kJsonArray);
  EXPECT_EQ(*selectLogBatchFormat("application/json; charset=utf-8", "{}"),
            LogBatchFormat::kJsonArray);
  for (const char* lines : {"application/x-ndjson; charset=utf-8", "application/jsonlines",
                            "application/x-jsonlines", "application/json-lines"}) {
    EXPECT_EQ(*selectLogBatchFormat(lines, "[]"), LogBatchFormat::kJsonLines) << lines;
  }
}

TEST(SelectLogBatchFormat, BodyWithoutAJsonContentTypeIsReadByItsFirstByte) {
  // curl -d sends application/x-www-form-urlencoded; other clients text/plain or nothing.
  for (const char* type : {"application/x-www-form-urlencoded", "text/plain; charset=utf-8", "",
                           "application/msgpack"}) {
    EXPECT_EQ(*selectLogBatchFormat(type, " \r\n[{\"date\": 1}]"), LogBatchFormat::kJsonArray)
        << type;
    EXPECT_EQ(*selectLogBatchFormat(type, "\n{\"date\": 1}\n{\"date\": 2}"),
              LogBatchFormat::kJsonLines)
        << type;
  }
  // Without a type the parser judges the body: 400 naming the byte, or "empty body".
  EXPECT_EQ(*selectLogBatchFormat("", "hello"), LogBatchFormat::kJsonArray);
  EXPECT_EQ(*selectLogBatchFormat("text/plain", "  "), LogBatchFormat::kJsonArray);
}

TEST(SelectLogBatchFormat, RefusesABodyOfAnotherTypeNamingTheType) {
  for (const auto& [type, body] :
       {std::pair<std::string, std::string>{"application/msgpack", "\x91\x81"},
        {"application/x-www-form-urlencoded", "log=hello"}}) {
    const auto format = selectLogBatchFormat(type, body);
    ASSERT_FALSE(format.ok()) << type;
    EXPECT_EQ(format.status().code(), absl::StatusCode::kUnimplemented) << type;
    EXPECT_THAT(messageOf(format.status()), HasSubstr("unsupported Content-Type '" + type + "'"));
    EXPECT_THAT(messageOf(format.status()), HasSubstr("application/x-ndjson for lines"));
  }
}

}  // namespace
}  // namespace tp::ingest
