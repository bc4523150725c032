// The listener with TLS: HTTPS requests with a verified certificate on a keep-alive connection,
// plain HTTP refused without harming later clients, and unusable certificate or key files named.

#include "http/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "boost/asio/connect.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "http/envelope.h"
#include "http/server.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace tp::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using ::testing::HasSubstr;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A self-signed certificate for 127.0.0.1, made by the openssl command line tool.
    const std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        key_.string() + " -out " + cert_.string() + " 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << "openssl (Debian package openssl) is needed";
    router_.add("/healthz", {beast::http::verb::get}, [](const RequestContext& ctx) {
      return jsonResponse(ctx.request, 200, envelopeOk(R"("ok")"));
    });
    auto tls = loadTlsContext(cert_.string(), key_.string());
    ASSERT_TRUE(tls.ok()) << tls.status();
    auto server = Server::create(
        {.address = "127.0.0.1", .port = 0, .threads = 1, .tls = std::move(*tls)}, router_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->start();
  }

  // Two GETs on one verified TLS connection; the statuses.
  std::vector<unsigned> getTwiceOverTls() {
    asio::io_context io;
    asio::ssl::context client(asio::ssl::context::tls_client);
    client.load_verify_file(cert_.string());
    client.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, client);
    beast::get_lowest_layer(stream).connect(server_->localEndpoint());
    stream.handshake(asio::ssl::stream_base::client);
    std::vector<unsigned> statuses;
    beast::flat_buffer buffer;
    for (int i = 0; i < 2; ++i) {
      beast::http::request<beast::http::empty_body> request(beast::http::verb::get, "/healthz", 11);
      request.set(beast::http::field::host, "127.0.0.1");
      beast::http::write(stream, request);
      beast::http::response<beast::http::string_body> response;
      beast::http::read(stream, buffer, response);
      statuses.push_back(response.result_int());
    }
    return statuses;
  }

  testing::TempDir dir_{"tp-tls-"};
  std::filesystem::path cert_ = dir_ / "cert.pem";
  std::filesystem::path key_ = dir_ / "key.pem";
  telemetry::Telemetry telemetry_{"test"};
  Router router_{telemetry_};
  std::unique_ptr<Server> server_;
};

TEST_F(TlsTest, ServesVerifiedHttpsOnAKeepAliveConnection) {
  EXPECT_THAT(getTwiceOverTls(), ::testing::ElementsAre(200u, 200u));
}

TEST_F(TlsTest, PlainHttpGetsNoAnswerAndLaterClientsAreServed) {
  testing::HttpClient plain(server_->localEndpoint().port());
  EXPECT_THROW(plain.get("/healthz"), std::exception);
  EXPECT_THAT(getTwiceOverTls(), ::testing::ElementsAre(200u, 200u));
}

TEST_F(TlsTest, UnusableFilesAreNamed) {
  auto missing = loadTlsContext((dir_ / "absent.pem").string(), key_.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("http.tlsCertFile"));
  auto wrong_key = loadTlsContext(cert_.string(), cert_.string());  // a certificate, not a key
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_THAT(std::string(wrong_key.status().message()), HasSubstr("http.tlsKeyFile"));
}

}  // namespace
}  // namespace tp::http
