#pragma once
// Blocking HTTP/1.1 client for tests: one keep-alive connection to a loopback port, plus raw
// access to the socket for tests that must send partial or malformed requests.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"

namespace tp::testing {

struct HttpResult {
  unsigned status = 0;
  std::string body;
  boost::beast::http::fields headers;
  bool keep_alive = false;
};

// A malformed request body for an ingestion endpoint and the answer it must get.
struct BadBody {
  const char* name;
  std::string body;
  std::string content_type;
  std::string encoding;  // Content-Encoding; empty: none
  unsigned status;
  const char* reason;  // part of the error message
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::string host = "127.0.0.1");

  HttpResult request(boost::beast::http::verb method, const std::string& target,
                     std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {});
  HttpResult get(const std::string& target) {
    return request(boost::beast::http::verb::get, target);
  }

  // Writes raw bytes, then reads one response (used for partial and malformed requests).
  void sendRaw(const std::string& bytes);
  HttpResult readResponse();
  // True when the server closed the connection (reads EOF within the timeout).
  bool closedByPeer(std::chrono::milliseconds timeout);

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace tp::testing
