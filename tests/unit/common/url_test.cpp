#include "common/url.h"

#include <gtest/gtest.h>

namespace tp::common {
namespace {

TEST(ParseHttpUrl, SplitsHostPortAndTarget) {
  auto url = parseHttpUrl("http://vminsert:8480/insert/0/prometheus");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "vminsert");
  EXPECT_EQ(url->port, 8480);
  EXPECT_EQ(url->target, "/insert/0/prometheus");
}

TEST(ParseHttpUrl, DefaultsPortAndTarget) {
  auto url = parseHttpUrl("https://storage.example");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->target, "/");
  EXPECT_EQ(parseHttpUrl("http://h?x=1")->target, "/?x=1");
}

TEST(ParseHttpUrl, AcceptsIpv6Literal) {
  auto url = parseHttpUrl("http://[::1]:9090/api/v1/write");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 9090);
}

TEST(ParseHttpUrl, RejectsMalformed) {
  for (const char* text :
       {"ftp://h/", "vminsert:8480", "http://", "http://:80/", "http://h:0/", "http://h:70000/",
        "http://h:x/", "http://h:/", "http://[::1/", "http://[::1]x/", "http://user:pw@h/"}) {
    EXPECT_FALSE(parseHttpUrl(text).ok()) << text;
  }
}

}  // namespace
}  // namespace tp::common
