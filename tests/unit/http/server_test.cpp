#include "http/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <latch>

#include "support/http_client.h"

namespace tp::http {
namespace {

using beast_http::verb;
using ::testing::HasSubstr;
using testing::HttpClient;
using namespace std::chrono_literals;

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() : telemetry_("test"), router_(telemetry_) {
    router_.add("/healthz", {verb::get}, [](const RequestContext& ctx) {
      return jsonResponse(ctx.request, 200, envelopeOkForTest());
    });
    router_.add("/echo", {verb::post}, [](const RequestContext& ctx) {
      return textResponse(
          ctx.request, 200, "text/plain",
          std::to_string(ctx.request.body().size()) + " from " + std::string(ctx.remote_address));
    });
    router_.add("/throw", {verb::get},
                [](const RequestContext&) -> Response { throw std::runtime_error("boom"); });
    router_.add("/slow", {verb::get}, [this](const RequestContext& ctx) {
      slow_entered_.count_down();
      release_slow_.wait();
      return textResponse(ctx.request, 200, "text/plain", "done");
    });
  }

  static std::string envelopeOkForTest() { return R"({"meta":{"code":2000}})"; }

  ::testing::AssertionResult start(ServerOptions options = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    if (options.max_body_bytes == ServerOptions{}.max_body_bytes) options.max_body_bytes = 4096;
    auto server = Server::create(options, router_);
    if (!server.ok()) return ::testing::AssertionFailure() << server.status();
    server_ = std::move(*server);
    server_->start();
    return ::testing::AssertionSuccess();
  }

  uint16_t port() const { return server_->localEndpoint().port(); }

  telemetry::Telemetry telemetry_;
  Router router_;
  std::unique_ptr<Server> server_;
  std::latch slow_entered_{1};
  std::promise<void> release_promise_;
  std::shared_future<void> release_slow_ = release_promise_.get_future().share();
};

TEST_F(ServerTest, ServesSeveralRequestsOnOneKeepAliveConnection) {
  ASSERT_TRUE(start());
  HttpClient client(port());
  for (int i = 0; i < 3; ++i) {
    const auto result = client.get(i % 2 == 0 ? "/healthz" : "/v1/healthz");
    EXPECT_EQ(result.status, 200u);
    EXPECT_TRUE(result.keep_alive);
  }
  const auto echo = client.request(verb::post, "/v1/echo", std::string(1000, 'x'));
  EXPECT_EQ(echo.status, 200u);
  EXPECT_EQ(echo.body, "1000 from 127.0.0.1");
}

TEST_F(ServerTest, UnknownRouteIs404InEnvelopeAndKeepsConnection) {
  ASSERT_TRUE(start());
  HttpClient client(port());
  const auto result = client.get("/v1/nowhere");
  EXPECT_EQ(result.status, 404u);
  EXPECT_THAT(result.body, HasSubstr(R"("code":4001)"));
  EXPECT_THAT(result.body, HasSubstr("no route for /nowhere"));
  EXPECT_EQ(client.get("/healthz").status, 200u);
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  ASSERT_TRUE(start());
  HttpClient client(port());
  const auto result = client.request(verb::delete_, "/healthz");
  EXPECT_EQ(result.status, 405u);
  EXPECT_EQ(result.headers[beast_http::field::allow], "GET");
  EXPECT_THAT(result.body, HasSubstr("method DELETE not allowed on /healthz"));
}

TEST_F(ServerTest, DeclaredOversizedBodyIs413BeforeAnyBodyByteIsSent) {
  ASSERT_TRUE(start());
  HttpClient client(port());
  client.sendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4294967296\r\n\r\n");
  const auto result = client.readResponse();
  EXPECT_EQ(result.status, 413u);
  EXPECT_THAT(result.body, HasSubstr("request body of 4294967296 bytes exceeds the limit of 4096"));
  EXPECT_FALSE(result.keep_alive);
  EXPECT_TRUE(client.closedByPeer(2s));
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  ASSERT_TRUE(start());
  HttpClient client(port());
  std::string request = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) request += "400\r\n" + std::string(1024, 'a') + "\r\n";
  request += "0\r\n\r\n";
  client.sendRaw(request);
  const auto result = client.readResponse();
  EXPECT_EQ(result.status, 413u);
  EXPECT_THAT(result.body, HasSubstr("exceeds the limit of 4096 bytes"));
}

TEST_F(ServerTest, BodyAtTheLimitIsAccepted) {
  ASSERT_TRUE(start());
  HttpClient client(port());
  EXPECT_EQ(client.request(verb::post, "/echo", std::string(4096, 'b')).body,
            "4096 from 127.0.0.1");
}

TEST_F(ServerTest, ExpectContinueGets100ThenTheAnswer) {
  ASSERT_TRUE(start());
  HttpClient client(port());
  client.sendRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(client.readResponse().status, 100u);
  client.sendRaw("hello");
  const auto result = client.readResponse();
  EXPECT_EQ(result.status, 200u);
  EXPECT_EQ(result.body, "5 from 127.0.0.1");
}

TEST_F(ServerTest, GarbageRequestIs400AndServerStaysUp) {
  ASSERT_TRUE(start());
  {
    HttpClient client(port());
    client.sendRaw("THIS IS NOT HTTP\r\n\r\n");
    const auto result = client.readResponse();
    EXPECT_EQ(result.status, 400u);
    EXPECT_THAT(result.body, HasSubstr("malformed request"));
  }
  HttpClient again(port());
  EXPECT_EQ(again.get("/healthz").status, 200u);
}

TEST_F(ServerTest, OversizedHeadersAre431) {
  ASSERT_TRUE(start());
  HttpClient client(port());
  client.sendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100 << 10, 'h') +
                 "\r\n\r\n");
  EXPECT_EQ(client.readResponse().status, 431u);
}

TEST_F(ServerTest, SlowHeadersAreCutByTheHeaderTimeout) {
  ASSERT_TRUE(start({.header_timeout = 200ms}));
  HttpClient client(port());
  client.sendRaw("GET /healthz HTTP/1.1\r\n");
  EXPECT_TRUE(client.closedByPeer(5s));
}

TEST_F(ServerTest, SlowBodyIsCutByTheBodyTimeout) {
  ASSERT_TRUE(start({.body_timeout = 200ms}));
  HttpClient client(port());
  client.sendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial");
  EXPECT_TRUE(client.closedByPeer(5s));
  HttpClient other(port());
  EXPECT_EQ(other.get("/healthz").status, 200u);
}

TEST_F(ServerTest, ThrowingHandlerIs500InEnvelope) {
  ASSERT_TRUE(start());
  HttpClient client(port());
  const auto result = client.get("/throw");
  EXPECT_EQ(result.status, 500u);
  EXPECT_THAT(result.body, HasSubstr(R"("code":5000)"));
  EXPECT_EQ(client.get("/healthz").status, 200u);
}

TEST_F(ServerTest, ConnectionLimitRefusesExtraConnections) {
  ASSERT_TRUE(start({.max_connections = 1}));
  HttpClient first(port());
  EXPECT_EQ(first.get("/healthz").status, 200u);
  HttpClient second(port());
  EXPECT_TRUE(second.closedByPeer(5s));
}

TEST_F(ServerTest, CountsRequestsByRouteAndStatusClass) {
  ASSERT_TRUE(start());
  HttpClient client(port());
  client.get("/healthz");
  client.get("/v1/healthz");
  client.get("/missing");
  const std::string exposition = telemetry_.exposition();
  EXPECT_THAT(exposition,
              HasSubstr(R"(http_requests_total{route="/healthz",status_class="2xx"} 2)"));
  EXPECT_THAT(exposition,
              HasSubstr(R"(http_requests_total{route="unmatched",status_class="4xx"} 1)"));
  EXPECT_THAT(
      exposition,
      HasSubstr(R"(http_request_duration_seconds_count{route="/healthz",status_class="2xx"} 2)"));
}

TEST_F(ServerTest, ShutdownFinishesInFlightRequestsAndClosesIdleOnes) {
  ASSERT_TRUE(start());
  HttpClient idle(port());
  EXPECT_EQ(idle.get("/healthz").status, 200u);
  auto in_flight = std::async(std::launch::async, [this] {
    HttpClient busy(port());
    return busy.get("/slow");
  });
  slow_entered_.wait();
  auto stopped = std::async(std::launch::async, [this] { return server_->shutdown(10s); });
  EXPECT_TRUE(idle.closedByPeer(5s));
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout);  // still waiting for /slow
  release_promise_.set_value();
  const auto result = in_flight.get();
  EXPECT_EQ(result.status, 200u);
  EXPECT_EQ(result.body, "done");
  EXPECT_FALSE(result.keep_alive);
  EXPECT_TRUE(stopped.get());
  EXPECT_THROW(HttpClient{port()}, boost::system::system_error);
}

TEST_F(ServerTest, ShutdownReportsRequestsCutOffByTheGracePeriod) {
  ASSERT_TRUE(start());
  auto in_flight = std::async(std::launch::async, [this] {
    try {
      HttpClient busy(port());
      return busy.get("/slow").status;
    } catch (const std::exception&) {
      return 0u;
    }
  });
  slow_entered_.wait();
  auto stopped = std::async(std::launch::async, [this] { return server_->shutdown(100ms); });
  // The handler is still blocked when the grace period ends; release it so threads can join.
  EXPECT_EQ(stopped.wait_for(300ms), std::future_status::timeout);
  release_promise_.set_value();
  EXPECT_FALSE(stopped.get());
  in_flight.get();
}

TEST_F(ServerTest, PortInUseIsReportedWithTheAddress) {
  ASSERT_TRUE(start());
  ServerOptions options{.address = "127.0.0.1", .port = port()};
  auto second = Server::create(options, router_);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(port())));
}

TEST_F(ServerTest, InvalidListenAddressIsNamed) {
  auto server = Server::create({.address = "not-an-ip"}, router_);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("http.listenAddress"));
}

}  // namespace
}  // namespace tp::http
