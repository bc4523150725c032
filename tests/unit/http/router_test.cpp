#include "http/router.h"

#include <gtest/gtest.h>

namespace tp::http {
namespace {

using beast_http::verb;

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : telemetry_("test"), router_(telemetry_) {
    router_.add("/healthz", {verb::get, verb::head}, handler("health"));
    router_.add("/pods/cache", {verb::get}, handler("pods"));
    router_.add("/prometheus", {}, handler("any"));
    router_.add("/training/{workload_uid}/data", {verb::get}, handler("data"));
    router_.add("/training/runs", {verb::get}, handler("runs"));
    router_.add("/training/{workload_uid}", {verb::get}, handler("workload"));
  }

  static Handler handler(std::string name) {
    return [name](const RequestContext& ctx) {
      return textResponse(ctx.request, 200, "text/plain", name);
    };
  }

  std::string call(const Router::Match& match) {
    Request request;
    const RequestContext context{request, match.path, "", match.parameters};
    return match.route->handler(context).body();
  }

  telemetry::Telemetry telemetry_;
  Router router_;
};

TEST_F(RouterTest, MatchesWithAndWithoutV1Prefix) {
  for (const char* target : {"/healthz", "/v1/healthz"}) {
    const auto match = router_.match(verb::get, target);
    ASSERT_EQ(match.outcome, Router::Outcome::kFound) << target;
    EXPECT_EQ(match.path, "/healthz");
    EXPECT_EQ(call(match), "health");
  }
  EXPECT_EQ(call(router_.match(verb::get, "/v1/pods/cache")), "pods");
}

TEST_F(RouterTest, IgnoresQueryString) {
  const auto match = router_.match(verb::get, "/v1/pods/cache?pretty=1");
  ASSERT_EQ(match.outcome, Router::Outcome::kFound);
  EXPECT_EQ(match.path, "/pods/cache");
}

TEST_F(RouterTest, UnknownPathIsNotFound) {
  for (const char* target :
       {"/", "/v1", "/v1/", "/healthz/", "/v2/healthz", "/v1/v1/healthz", "/HEALTHZ", "/pods"}) {
    EXPECT_EQ(router_.match(verb::get, target).outcome, Router::Outcome::kNotFound) << target;
  }
}

TEST_F(RouterTest, WrongMethodIsNotAllowedWithAllowList) {
  const auto match = router_.match(verb::post, "/healthz");
  ASSERT_EQ(match.outcome, Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(Router::allowHeader(*match.route), "GET, HEAD");
}

TEST_F(RouterTest, EmptyMethodListAcceptsAnyMethod) {
  for (const verb method : {verb::get, verb::post, verb::put}) {
    EXPECT_EQ(router_.match(method, "/prometheus").outcome, Router::Outcome::kFound);
  }
}

TEST_F(RouterTest, ParameterSegmentsMatchOneSegmentAndAreDecoded) {
  const auto match = router_.match(verb::get, "/v1/training/w%2Fjob%201/data?metrics=a");
  ASSERT_EQ(match.outcome, Router::Outcome::kFound);
  EXPECT_EQ(call(match), "data");
  EXPECT_EQ(match.parameters.get("workload_uid"), "w/job 1");
  EXPECT_EQ(match.parameters.get("serial"), "") << "no such segment";
  EXPECT_EQ(match.route->path, "/training/{workload_uid}/data") << "the metrics label";
  for (const char* target : {"/training//data", "/training/w/data/x", "/training/w/other",
                             "/training/w/data/", "/training"}) {
    EXPECT_EQ(router_.match(verb::get, target).outcome, Router::Outcome::kNotFound) << target;
  }
}

TEST_F(RouterTest, ALiteralPathWinsOverAParameter) {
  EXPECT_EQ(call(router_.match(verb::get, "/training/runs")), "runs");
  const auto match = router_.match(verb::get, "/training/w-job");
  EXPECT_EQ(call(match), "workload");
  EXPECT_EQ(match.parameters.get("workload_uid"), "w-job");
}

TEST_F(RouterTest, AParameterRouteAnswersOtherMethodsWith405) {
  const auto match = router_.match(verb::post, "/training/w-job/data");
  ASSERT_EQ(match.outcome, Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(Router::allowHeader(*match.route), "GET");
}

TEST_F(RouterTest, ErrorResponseCarriesEnvelopeAndStatus) {
  Request request;
  request.version(11);
  const Response response = errorResponse(request, 415, "unsupported");
  EXPECT_EQ(response.result_int(), 415u);
  EXPECT_EQ(response[beast_http::field::content_type], "application/json");
  EXPECT_NE(response.body().find("\"code\":4001"), std::string::npos);
}

}  // namespace
}  // namespace tp::http
