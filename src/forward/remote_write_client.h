#pragma once
// One keep-alive HTTP/1.1 connection to a remote-write endpoint, used by one sender thread.
// Posts snappy-compressed WriteRequest bodies; each attempt, connecting included, ends within the
// configured timeout, and any of them at the time stopAt() set (shutdown), both on the injected
// clock.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
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
  RemoteWriteClient(common::HttpUrl url, std::chrono::milliseconds timeout,
                    const common::Clock& clock = common::systemClock());
  ~RemoteWriteClient();

  SendResult post(std::string_view snappy_body);

  // Cuts off the request in flight at `deadline`, and any later one (its connection is closed).
  // Callable from any thread.
  void stopAt(common::Clock::TimePoint deadline);

 private:
  struct Io;
  struct Connection;
  bool connect(common::Clock::TimePoint limit, std::string* error);
  // Runs the operations started on the connection until `done`. At `limit` or the stop time, closes
  // the connection, lets the handlers finish and returns false.
  bool run(const bool& done, common::Clock::TimePoint limit);
  // Why run() returned false.
  std::string interruption() const;

  common::HttpUrl url_;
  std::chrono::milliseconds timeout_;
  const common::Clock& clock_;
  std::unique_ptr<Io> io_;  // outlives the connections: stopAt() may come at any time
  std::unique_ptr<Connection> connection_;
  std::atomic<common::Clock::TimePoint> stop_at_{common::Clock::TimePoint::max()};
};

}  // namespace tp::forward
