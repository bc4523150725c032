#pragma once
// One keep-alive HTTP/1.1 connection to a remote-write endpoint, used by one sender thread.
// Posts snappy-compressed WriteRequest bodies; every step is bounded by the configured timeout.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/url.h"

namespace tp::forward {

struct SendResult {
  unsigned status = 0;  // 0: no answer (connect, write or read failed)
  std::string error;    // network error, when status is 0
  std::string retry_after;
  std::string body;  // the start of the response body, for logging rejections
};

// "http://vminsert:8480/insert/0/prometheus" -> ".../insert/0/prometheus/api/v1/write"; a URL
// whose path already ends in /write or /push is used as it is.
std::string writeUrlFor(const std::string& configured);

class RemoteWriteClient {
 public:
  RemoteWriteClient(common::HttpUrl url, std::chrono::milliseconds timeout);
  ~RemoteWriteClient();

  SendResult post(std::string_view snappy_body);

 private:
  struct Connection;
  bool connect(std::string* error);

  common::HttpUrl url_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace tp::forward
