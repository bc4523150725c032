#include "forward/remote_write_client.h"

#include <sys/socket.h>

#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "common/strings.h"
#include "common/version.h"

namespace tp::forward {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kKeptResponseBody = 512;

std::string writeUrlFor(const std::string& configured) {
  auto url = common::parseHttpUrl(configured);
  if (!url.ok()) return configured;
  std::string_view path = url->target;
  path = path.substr(0, path.find('?'));
  if (path.ends_with("/write") || path.ends_with("/push")) return configured;
  std::string base = configured;
  while (base.ends_with('/')) base.pop_back();
  return base + "/api/v1/write";
}

struct RemoteWriteClient::Connection {
  asio::io_context io;
  tcp::socket socket{io};
  boost::beast::flat_buffer buffer;
};

RemoteWriteClient::RemoteWriteClient(common::HttpUrl url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {}

RemoteWriteClient::~RemoteWriteClient() = default;

bool RemoteWriteClient::connect(std::string* error) {
  connection_ = std::make_unique<Connection>();
  boost::system::error_code ec;
  tcp::resolver resolver(connection_->io);
  const auto endpoints = resolver.resolve(url_.host, std::to_string(url_.port), ec);
  if (ec) {
    *error = common::concat("cannot resolve ", url_.host, ": ", ec.message());
    connection_.reset();
    return false;
  }
  bool done = false;
  asio::async_connect(connection_->socket, endpoints,
                      [&](const boost::system::error_code& result, const tcp::endpoint&) {
                        ec = result;
                        done = true;
                      });
  connection_->io.run_for(timeout_);
  if (!done) {
    *error = common::concat("connect to ", url_.host, ":", url_.port, " timed out");
    connection_.reset();
    return false;
  }
  if (ec) {
    *error = common::concat("connect to ", url_.host, ":", url_.port, ": ", ec.message());
    connection_.reset();
    return false;
  }
  // Blocking reads and writes below are bounded by socket timeouts.
  timeval limit{};
  limit.tv_sec = timeout_.count() / 1000;
  limit.tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000);
  const int fd = connection_->socket.native_handle();
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  connection_->socket.set_option(tcp::no_delay(true), ec);
  return true;
}

SendResult RemoteWriteClient::post(std::string_view snappy_body) {
  SendResult result;
  // A kept-alive connection may have been closed by the server meanwhile: one fresh retry.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = connection_ != nullptr;
    if (!connection_ && !connect(&result.error)) return result;
    http::request<http::string_body> request{http::verb::post, url_.target, 11};
    request.set(http::field::host, url_.host);
    request.set(http::field::user_agent, common::concat("telemetry-processor/", common::kVersion));
    request.set(http::field::content_type, "application/x-protobuf");
    request.set(http::field::content_encoding, "snappy");
    request.set("X-Prometheus-Remote-Write-Version", "0.1.0");
    request.keep_alive(true);
    request.body().assign(snappy_body.data(), snappy_body.size());
    request.prepare_payload();
    boost::system::error_code ec;
    http::write(connection_->socket, request, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    if (!ec) http::read(connection_->socket, connection_->buffer, parser, ec);
    if (ec) {
      connection_.reset();
      result.error =
          common::concat("POST ", url_.host, ":", url_.port, url_.target, ": ", ec.message());
      if (reused) continue;
      return result;
    }
    const auto& response = parser.get();
    result.status = response.result_int();
    result.error.clear();
    result.retry_after = std::string(response[http::field::retry_after]);
    result.body = response.body().substr(0, kKeptResponseBody);
    if (!response.keep_alive()) connection_.reset();
    return result;
  }
  return result;
}

}  // namespace tp::forward
