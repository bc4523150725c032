#include "http/auth.h"

#include <gtest/gtest.h>

namespace tp::http {
namespace {

TEST(Base64, EncodesWithPadding) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(base64Encode(std::string("\xff\x00\x10", 3)), "/wAQ");
}

TEST(Authenticator, DisabledWithoutCredentials) {
  const Authenticator none({}, {}, {});
  EXPECT_FALSE(none.enabled());
  EXPECT_TRUE(none.allows("/prometheus", ""));
}

TEST(Authenticator, ChecksBearerAndBasicAndHonoursExemptions) {
  const Authenticator auth({"t0ken"}, {"Aladdin:open sesame"}, {"/healthz"});
  EXPECT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.allows("/prometheus", "Bearer t0ken"));
  EXPECT_TRUE(auth.allows("/prometheus", "BEARER t0ken"));
  EXPECT_FALSE(auth.allows("/prometheus", "Bearer t0ke"));
  EXPECT_FALSE(auth.allows("/prometheus", "Bearer t0ken2"));
  EXPECT_FALSE(auth.allows("/prometheus", "Bearer"));
  EXPECT_FALSE(auth.allows("/prometheus", "Bearert0ken"));
  EXPECT_TRUE(auth.allows("/logs", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
  EXPECT_FALSE(auth.allows("/logs", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ"));
  EXPECT_FALSE(auth.allows("/logs", ""));
  EXPECT_TRUE(auth.allows("/healthz", ""));
  EXPECT_FALSE(auth.allows("/readyz", ""));
}

TEST(Authenticator, ChallengeNamesOnlyTheConfiguredSchemes) {
  EXPECT_EQ(Authenticator({"t"}, {}, {}).challenge(), R"(Bearer realm="telemetry-processor")");
  EXPECT_EQ(Authenticator({}, {"u:p"}, {}).challenge(),
            R"(Basic realm="telemetry-processor", charset="UTF-8")");
}

TEST(Authenticator, ReplacedCredentialsAreSeenByEveryCopy) {
  Authenticator auth({"old"}, {}, {"/healthz"});
  const Authenticator server_copy = auth;
  auth.replace({"new"}, {"u:p"}, {});
  EXPECT_FALSE(server_copy.allows("/logs", "Bearer old"));
  EXPECT_TRUE(server_copy.allows("/logs", "Bearer new"));
  EXPECT_TRUE(server_copy.allows("/logs", "Basic " + base64Encode("u:p")));
  EXPECT_FALSE(server_copy.allows("/healthz", ""));
  EXPECT_EQ(server_copy.challenge(), R"(Bearer realm="telemetry-processor", )"
                                     R"(Basic realm="telemetry-processor", charset="UTF-8")");
  auth.replace({}, {}, {});
  EXPECT_FALSE(server_copy.enabled());
}

}  // namespace
}  // namespace tp::http
