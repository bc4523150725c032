#include "forward/remote_write_client.h"

#include <algorithm>

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

struct RemoteWriteClient::Io {
  asio::io_context context;
};

struct RemoteWriteClient::Connection {
  explicit Connection(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  boost::beast::flat_buffer buffer;
};

RemoteWriteClient::RemoteWriteClient(common::HttpUrl url, std::chrono::milliseconds timeout,
                                     const common::Clock& clock)
    : url_(std::move(url)), timeout_(timeout), clock_(clock), io_(std::make_unique<Io>()) {}

RemoteWriteClient::~RemoteWriteClient() = default;

void RemoteWriteClient::stopAt(common::Clock::TimePoint deadline) {
  stop_at_ = deadline;
  io_->context.stop();  // run() looks at the new stop time (stop() is sticky until restart())
}

bool RemoteWriteClient::run(const bool& done, common::Clock::TimePoint limit) {
  asio::io_context& io = io_->context;
  while (!done) {
    io.restart();
    const auto until = std::min(limit, stop_at_.load());
    const auto now = clock_.now();
    if (now >= until) {
      boost::system::error_code ignored;
      connection_->socket.close(ignored);
      io.restart();
      io.run();  // the handlers, aborted now, refer to the caller's variables
      return false;
    }
    // Asio waits in real time: for what is left on the injected clock, then looks again.
    io.run_one_for(until - now);
  }
  return true;
}

std::string RemoteWriteClient::interruption() const {
  if (clock_.now() >= stop_at_.load()) return "stopped: shutting down";
  return common::concat("timed out after ", timeout_.count(), " ms (metricsWrite.timeout)");
}

bool RemoteWriteClient::connect(common::Clock::TimePoint limit, std::string* error) {
  connection_ = std::make_unique<Connection>(io_->context);
  boost::system::error_code ec;
  tcp::resolver resolver(io_->context);
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
  if (!run(done, limit)) {
    *error = common::concat("connect to ", url_.host, ":", url_.port, ": ", interruption());
    connection_.reset();
    return false;
  }
  if (ec) {
    *error = common::concat("connect to ", url_.host, ":", url_.port, ": ", ec.message());
    connection_.reset();
    return false;
  }
  connection_->socket.set_option(tcp::no_delay(true), ec);
  return true;
}

SendResult RemoteWriteClient::post(std::string_view snappy_body) {
  SendResult result;
  // A kept-alive connection may have been closed by the server meanwhile: one fresh retry.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto limit = clock_.now() + timeout_;
    const bool reused = connection_ != nullptr;
    if (!connection_ && !connect(limit, &result.error)) return result;
    http::request<http::string_body> request{http::verb::post, url_.target, 11};
    request.set(http::field::host, url_.host);
    request.set(http::field::user_agent, common::concat("telemetry-processor/", common::kVersion));
    request.set(http::field::content_type, "application/x-protobuf");
    request.set(http::field::content_encoding, "snappy");
    request.set("X-Prometheus-Remote-Write-Version", "0.1.0");
    request.keep_alive(true);
    request.body().assign(snappy_body.data(), snappy_body.size());
    request.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    boost::system::error_code ec;
    bool done = false;
    http::async_write(connection_->socket, request,
                      [&](const boost::system::error_code& written, size_t) {
                        if (written) {
                          ec = written;
                          done = true;
                          return;
                        }
                        http::async_read(connection_->socket, connection_->buffer, parser,
                                         [&](const boost::system::error_code& read, size_t) {
                                           ec = read;
                                           done = true;
                                         });
                      });
    const bool finished = run(done, limit);
    if (!finished || ec) {
      result.error = common::concat("POST ", url_.host, ":", url_.port, url_.target, ": ",
                                    finished ? ec.message() : interruption());
      connection_.reset();
      if (finished && reused) continue;
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
