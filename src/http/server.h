#pragma once
// HTTP/1.1 server on Boost.Beast: keep-alive, a pool of I/O threads, request size limits
// enforced from the headers before any body byte is read, optional TLS, and a graceful stop
// that lets in-flight requests finish. Handlers run on the connection's I/O thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/context.hpp"
#include "config/config.h"
#include "http/auth.h"
#include "http/router.h"

namespace tp::http {

// The fields http.* configures default to its defaults (config/config.h).
struct ServerOptions {
  std::string address = config::HttpConfig{}.listen_address;
  uint16_t port = 0;
  int threads = 1;
  uint64_t max_body_bytes = config::HttpConfig{}.max_body_bytes;
  uint32_t max_header_bytes = 64 << 10;
  std::chrono::milliseconds header_timeout = config::HttpConfig{}.header_timeout;
  std::chrono::milliseconds body_timeout = config::HttpConfig{}.body_timeout;
  std::chrono::milliseconds idle_timeout = config::HttpConfig{}.idle_timeout;
  int max_connections = config::HttpConfig{}.max_connections;
  Authenticator authenticator{{}, {}, {}};         // disabled unless credentials are configured
  std::shared_ptr<boost::asio::ssl::context> tls;  // set: every connection speaks TLS
};

// A connection, whatever its transport; the server closes idle ones at shutdown.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void closeIfIdle() = 0;
};

template <typename Stream>
class Session;

class Server {
 public:
  // Binds and listens; fails with a message naming the address when the port is taken.
  static absl::StatusOr<std::unique_ptr<Server>> create(ServerOptions options,
                                                        const Router& router);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  boost::asio::ip::tcp::endpoint localEndpoint() const { return local_endpoint_; }

  // Starts accepting on `options.threads` I/O threads.
  void start();

  // Stops accepting and closes idle connections; requests in flight get their response (sent
  // with "Connection: close") until `grace` has passed. Returns false if some were cut off.
  bool shutdown(std::chrono::milliseconds grace);

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }

 private:
  template <typename Stream>
  friend class Session;
  Server(ServerOptions options, const Router& router);

  void accept();
  void registerSession(SessionBase* session, std::weak_ptr<SessionBase> handle);
  void unregisterSession(SessionBase* session);

  // Declared before io_ so that sessions destroyed with io_'s pending handlers can still
  // unregister themselves.
  std::mutex sessions_mutex_;
  std::condition_variable sessions_drained_;
  // Open connections; guarded by sessions_mutex_.
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;

  ServerOptions options_;
  const Router& router_;
  boost::asio::io_context io_;
  // On its own strand: accept completions and the close at shutdown run on different threads.
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::endpoint local_endpoint_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

}  // namespace tp::http
