#include "support/http_client.h"

#include <poll.h>

#include "boost/asio/connect.hpp"
#include "boost/asio/write.hpp"

namespace tp::testing {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

HttpClient::HttpClient(uint16_t port, std::string host) : socket_(io_) {
  socket_.connect(tcp::endpoint(boost::asio::ip::make_address(host), port));
}

HttpResult HttpClient::request(http::verb method, const std::string& target, std::string body,
                               std::vector<std::pair<std::string, std::string>> headers) {
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = std::move(body);
  request.prepare_payload();
  http::write(socket_, request);
  return readResponse();
}

void HttpClient::sendRaw(const std::string& bytes) {
  boost::asio::write(socket_, boost::asio::buffer(bytes));
}

HttpResult HttpClient::readResponse() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<uint64_t>::max());
  http::read(socket_, buffer_, parser);
  const auto& response = parser.get();
  HttpResult result;
  result.status = response.result_int();
  result.body = response.body();
  for (const auto& field : response) result.headers.set(field.name_string(), field.value());
  result.keep_alive = response.keep_alive();
  return result;
}

bool HttpClient::closedByPeer(std::chrono::milliseconds timeout) {
  pollfd descriptor{socket_.native_handle(), POLLIN, 0};
  if (::poll(&descriptor, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char byte = 0;
  boost::system::error_code ec;
  socket_.read_some(boost::asio::buffer(&byte, 1), ec);
  return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
}

}  // namespace tp::testing
