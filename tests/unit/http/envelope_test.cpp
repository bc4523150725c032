#include "http/envelope.h"

#include <gtest/gtest.h>

#include "rapidjson/document.h"

namespace tp::http {
namespace {

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document document;
  document.Parse(text.c_str());
  EXPECT_FALSE(document.HasParseError()) << text;
  return document;
}

TEST(Envelope, OkCarriesDataVerbatim) {
  EXPECT_EQ(envelopeOk(R"({"a":[1,2]})"),
            R"({"meta":{"code":2000,"message":"OK"},"data":{"a":[1,2]},"tracing":null})");
}

TEST(Envelope, ClientErrorsUse4001) {
  const auto document = parse(envelopeError(413, "too big"));
  EXPECT_EQ(document["meta"]["code"].GetInt(), 4001);
  EXPECT_STREQ(document["meta"]["message"].GetString(), "too big");
  EXPECT_TRUE(document["data"].IsNull());
  EXPECT_TRUE(document["tracing"].IsNull());
}

TEST(Envelope, ServerErrorsUse5000) {
  EXPECT_EQ(parse(envelopeError(503, "x"))["meta"]["code"].GetInt(), 5000);
  EXPECT_EQ(parse(envelopeError(500, "x"))["meta"]["code"].GetInt(), 5000);
}

TEST(Envelope, MessageIsEscaped) {
  const auto document = parse(envelopeError(400, "bad \"quote\"\n\\ and \x01 control"));
  EXPECT_STREQ(document["meta"]["message"].GetString(), "bad \"quote\"\n\\ and \x01 control");
}

}  // namespace
}  // namespace tp::http
