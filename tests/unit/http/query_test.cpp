#include "http/query.h"

#include <gtest/gtest.h>

namespace tp::http {
namespace {

TEST(PercentDecode, DecodesEscapesAndLeavesBrokenOnesAsTheyAre) {
  EXPECT_EQ(percentDecode("lm_loss%2Ctflops"), "lm_loss,tflops");
  EXPECT_EQ(percentDecode("%7Ba%7d"), "{a}");
  EXPECT_EQ(percentDecode("a+b"), "a+b");
  EXPECT_EQ(percentDecode("a+b", true), "a b");
  EXPECT_EQ(percentDecode("100%"), "100%");
  EXPECT_EQ(percentDecode("%zz%2"), "%zz%2");
}

TEST(QueryParameters, ReadsTheFirstValueOfEachName) {
  const QueryParameters query("/v1/training/runs?limit=10&state=&cursor&limit=20&metrics=a%2Cb");
  EXPECT_EQ(query.get("limit"), "10");
  EXPECT_EQ(query.get("state"), "");
  EXPECT_EQ(query.get("cursor"), "");
  EXPECT_EQ(query.get("metrics"), "a,b");
  EXPECT_EQ(query.get("workload_uid"), std::nullopt);
}

TEST(QueryParameters, ATargetWithoutQueryHasNone) {
  EXPECT_EQ(QueryParameters("/v1/training/runs").get("limit"), std::nullopt);
  EXPECT_EQ(QueryParameters("/v1/training/runs?").get("limit"), std::nullopt);
  EXPECT_EQ(QueryParameters("/x?&&a=1&").get("a"), "1");
}

}  // namespace
}  // namespace tp::http
