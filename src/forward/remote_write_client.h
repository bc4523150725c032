#pragma once
// One keep-alive HTTP/1.1 connection to a remote-write endpoint, used by one sender thread.
// Posts snappy-compressed WriteRequest bodies; each attempt, connecting included, ends within the
// configured timeout, and any of them at the time stopAt() set (shutdown).

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/url.h"

namespace tp::forward {

struct SendResult {
  unsigned status = 0;  // 0: no answer (connect, write or read failed, timed out or stopped)
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

  // Cuts off the request in flight at `deadline`, and any later one (its connection is closed).
  // Callable from any thread.
  void stopAt(std::chrono::steady_clock::time_point deadline);

 private:
  struct Io;
  struct Connection;
  bool connect(std::chrono::steady_clock::time_point limit, std::string* error);
  // Runs the operations started on the connection until `done`. At `limit` or the stop time, closes
  // the connection, lets the handlers finish and returns false.
  bool run(const bool& done, std::chrono::steady_clock::time_point limit);
  // Why run() returned false.
  std::string interruption() const;

  common::HttpUrl url_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Io> io_;  // outlives the connections: stopAt() may come at any time
  std::unique_ptr<Connection> connection_;
  std::atomic<std::chrono::steady_clock::time_point> stop_at_{
      std::chrono::steady_clock::time_point::max()};
};

}  // namespace tp::forward
