#include "ingest/remote_write/content_type.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace tp::ingest {
namespace {

using ::testing::HasSubstr;

std::string messageOf(const absl::Status& status) { return std::string(status.message()); }

TEST(ParseRemoteWriteContentType, NamesTheVersionOfTheMessage) {
  for (const char* v1 : {"", "application/x-protobuf", " application/x-protobuf ; charset=x",
                         "application/x-protobuf;proto=prometheus.WriteRequest"}) {
    const auto version = parseRemoteWriteContentType(v1);
    ASSERT_TRUE(version.ok()) << '\'' << v1 << "': " << version.status();
    EXPECT_EQ(*version, RemoteWriteVersion::kV1) << v1;
  }
  for (const char* v2 : {"application/x-protobuf;proto=io.prometheus.write.v2.Request",
                         "application/x-protobuf; proto= io.prometheus.write.v2.Request ;x=y"}) {
    const auto version = parseRemoteWriteContentType(v2);
    ASSERT_TRUE(version.ok()) << v2 << ": " << version.status();
    EXPECT_EQ(*version, RemoteWriteVersion::kV2) << v2;
  }
}

TEST(ParseRemoteWriteContentType, RefusesAnotherMediaTypeNamingTheHeader) {
  const auto version = parseRemoteWriteContentType("application/json; charset=utf-8");
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(messageOf(version.status()),
              HasSubstr("unsupported Content-Type 'application/json; charset=utf-8' (use "
                        "application/x-protobuf)"));
}

TEST(ParseRemoteWriteContentType, RefusesAnUnknownMessageNamingIt) {
  const auto version = parseRemoteWriteContentType("application/x-protobuf;proto=io.v3.Request");
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(messageOf(version.status()),
              HasSubstr("unsupported remote-write message 'io.v3.Request'"));
  EXPECT_THAT(messageOf(version.status()), HasSubstr("io.prometheus.write.v2.Request"));
}

TEST(ParseContentEncoding, KnowsTheProtocolsEncodings) {
  EXPECT_EQ(*parseContentEncoding("snappy"), BodyEncoding::kSnappy);
  EXPECT_EQ(*parseContentEncoding(" zstd "), BodyEncoding::kZstd);
  EXPECT_EQ(*parseContentEncoding(""), BodyEncoding::kIdentity);
  EXPECT_EQ(*parseContentEncoding("identity"), BodyEncoding::kIdentity);
}

TEST(ParseContentEncoding, RefusesOtherEncodingsNamingThem) {
  for (const char* other : {"gzip", "br", "snappy, zstd"}) {
    const auto encoding = parseContentEncoding(other);
    ASSERT_FALSE(encoding.ok()) << other;
    EXPECT_EQ(encoding.status().code(), absl::StatusCode::kUnimplemented) << other;
    EXPECT_THAT(messageOf(encoding.status()),
                HasSubstr(std::string("unsupported Content-Encoding '") + other + "'"));
    EXPECT_THAT(messageOf(encoding.status()), HasSubstr("use snappy, zstd or none"));
  }
}

}  // namespace
}  // namespace tp::ingest
