#include "http/server.h"

#include "common/strings.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "boost/asio/post.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/ssl.hpp"
#include "spdlog/spdlog.h"

namespace tp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// Beast reads at most 64 KiB per call; an idle connection keeps at most kIdleBufferBytes.
constexpr uint64_t kBodyReadBytes = 64 << 10;
constexpr size_t kIdleBufferBytes = 4 << 10;

// One connection; `Stream` is a plain TCP stream or a TLS stream over one.
template <typename Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <typename... TlsContext>
  Session(tcp::socket socket, Server& server, TlsContext&... tls)
      : stream_(std::move(socket), tls...), server_(server), options_(server.options()) {
    beast::error_code ec;
    const tcp::endpoint remote = tcp().socket().remote_endpoint(ec);
    if (!ec) remote_address_ = remote.address().to_string();
  }

  ~Session() override { server_.unregisterSession(this); }

  void start() {
    server_.registerSession(this, this->weak_from_this());
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        self->tcp().expires_after(self->options_.header_timeout);
        self->stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->close();  // not TLS, or refused
          self->readHeader();
        });
      } else {
        self->readHeader();
      }
    });
  }

  // Called on shutdown: a connection waiting for its next request stops waiting and closes; a
  // read that has already completed (the request is here) is served, as are busy connections,
  // which close after their response because the server is stopping.
  void closeIfIdle() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->tcp().cancel();
    });
  }

 private:
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

  void readHeader() {
    if (server_.stopping() && !requestArriving()) return close();
    // An idle connection keeps no body-sized buffer.
    if (buffer_.size() == 0 && buffer_.capacity() > kIdleBufferBytes) buffer_.shrink_to_fit();
    parser_.emplace();
    parser_->header_limit(options_.max_header_bytes);
    // The declared length is checked in onHeader, where the answer can name it.
    parser_->body_limit(std::numeric_limits<uint64_t>::max());
    idle_ = true;
    tcp().expires_after(served_any_ ? options_.idle_timeout : options_.header_timeout);
    awaitHeader();
  }

  void awaitHeader() {
    beast::http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->onHeader(ec); });
  }

  void onHeader(beast::error_code ec) {
    const bool was_idle = std::exchange(idle_, false);
    if (ec == asio::error::operation_aborted && was_idle && requestArriving()) {
      return awaitHeader();  // cancelled by shutdown, but the client already started a request
    }
    if (ec) {
      if (ec == beast::http::error::header_limit) {
        return replyAndClose(431, "request headers larger than the limit");
      }
      if (ec == beast::http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || buffer_.size() == 0) {
        return close();
      }
      return replyAndClose(400, common::concat("malformed request: ", ec.message()));
    }
    started_ = std::chrono::steady_clock::now();
    const Request& request = parser_->get();
    match_ = server_.router().match(request.method(), toStd(request.target()));
    const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;

    if (match_.outcome == Router::Outcome::kNotFound) {
      return replyBeforeBody(404, common::concat("no route for ", match_.path), has_body);
    }
    if (match_.outcome == Router::Outcome::kMethodNotAllowed) {
      return replyBeforeBody(405,
                             common::concat("method ", toStd(request.method_string()),
                                            " not allowed on ", match_.path),
                             has_body);
    }
    if (!options_.authenticator.allows(match_.path,
                                       toStd(request[beast::http::field::authorization]))) {
      return replyBeforeBody(401, "authentication required", has_body);
    }
    if (const auto length = parser_->content_length();
        length && *length > options_.max_body_bytes) {
      return replyBeforeBody(
          413,
          common::concat("request body of ", *length, " bytes exceeds the limit of ",
                         options_.max_body_bytes, " bytes (http.maxBodyBytes)"),
          has_body);
    }
    if (beast::iequals(request[beast::http::field::expect], "100-continue")) {
      auto continue_response = std::make_shared<beast::http::response<beast::http::empty_body>>(
          beast::http::status::continue_, request.version());
      tcp().expires_after(options_.body_timeout);
      return beast::http::async_write(
          stream_, *continue_response,
          [self = this->shared_from_this(), continue_response](beast::error_code ec, size_t) {
            if (ec) return self->close();
            self->readBody();
          });
    }
    readBody();
  }

  void readBody() {
    parser_->body_limit(options_.max_body_bytes);  // also bounds chunked bodies
    // The parser moves body bytes out of buffer_ as they arrive, so buffer_ would otherwise stay
    // as small as the header and a body would come in reads of a few hundred bytes each.
    buffer_.reserve(
        std::min<uint64_t>(parser_->content_length().value_or(kBodyReadBytes), kBodyReadBytes));
    tcp().expires_after(options_.body_timeout);
    beast::http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->onBody(ec); });
  }

  void onBody(beast::error_code ec) {
    if (ec == beast::http::error::body_limit) {
      return replyAndClose(
          413, common::concat("request body exceeds the limit of ", options_.max_body_bytes,
                              " bytes (http.maxBodyBytes)"));
    }
    // A timeout has already closed the socket (slow clients are cut, not answered); any other
    // error means the peer went away mid-body: nobody to answer.
    if (ec) return close();

    const Request& request = parser_->get();
    const RequestContext context{request, match_.path, remote_address_, match_.parameters};
    Response response;
    try {
      response = match_.route->handler(context);
    } catch (const std::exception& error) {
      spdlog::error("handler for {} failed: {}", match_.path, error.what());
      response = errorResponse(request, 500, "internal error");
    }
    send(std::move(response), match_.route->metrics, !request.keep_alive());
  }

  // Answers without reading the body; the connection must close unless there is no body.
  void replyBeforeBody(unsigned status, const std::string& message, bool has_body) {
    const Request& request = parser_->get();
    Response response = errorResponse(request, status, message);
    if (status == 405) response.set(beast::http::field::allow, Router::allowHeader(*match_.route));
    if (status == 401) {
      response.set(beast::http::field::www_authenticate, options_.authenticator.challenge());
    }
    const telemetry::RouteMetrics& metrics =
        match_.route != nullptr ? match_.route->metrics : server_.router().unmatchedMetrics();
    send(std::move(response), metrics, has_body || !request.keep_alive());
  }

  void replyAndClose(unsigned status, const std::string& message) {
    started_ = std::chrono::steady_clock::now();
    Request empty;
    send(errorResponse(empty, status, message), server_.router().unmatchedMetrics(), true);
  }

  void send(Response response, const telemetry::RouteMetrics& metrics, bool close_after) {
    close_after = close_after || server_.stopping();
    response.keep_alive(!close_after);
    response.prepare_payload();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    metrics.observe(response.result_int(), seconds);
    served_any_ = true;
    auto shared_response = std::make_shared<Response>(std::move(response));
    tcp().expires_after(options_.body_timeout);
    beast::http::async_write(stream_, *shared_response,
                             [self = this->shared_from_this(), shared_response, close_after](
                                 beast::error_code ec, size_t) {
                               if (ec || close_after) return self->close();
                               self->readHeader();
                             });
  }

  bool requestArriving() {
    beast::error_code ec;
    return buffer_.size() > 0 || tcp().socket().available(ec) > 0;
  }

  // Without a TLS close_notify: the HTTP framing already tells where every message ends.
  void close() {
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp().close();
  }

  Stream stream_;
  Server& server_;
  const ServerOptions& options_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  Router::Match match_{Router::Outcome::kNotFound, nullptr, {}};
  std::string remote_address_;
  std::chrono::steady_clock::time_point started_;
  bool idle_ = false;
  bool served_any_ = false;
};

Server::Server(ServerOptions options, const Router& router)
    : options_(std::move(options)), router_(router), acceptor_(asio::make_strand(io_)) {}

absl::StatusOr<std::unique_ptr<Server>> Server::create(ServerOptions options,
                                                       const Router& router) {
  std::unique_ptr<Server> server(new Server(std::move(options), router));
  const ServerOptions& opts = server->options_;
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(opts.address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        common::concat("http.listenAddress: '", opts.address, "' is not an IP address"));
  }
  const tcp::endpoint endpoint(address, opts.port);
  auto& acceptor = server->acceptor_;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(common::concat("cannot listen on ", opts.address, ":", opts.port,
                                                 " (httpPort): ", ec.message()));
  }
  server->local_endpoint_ = acceptor.local_endpoint();
  return server;
}

Server::~Server() {
  if (!threads_.empty()) shutdown(std::chrono::milliseconds(0));
}

void Server::start() {
  accept();
  const int count = std::max(1, options_.threads);
  for (int i = 0; i < count; ++i) {
    threads_.emplace_back([this] { io_.run(); });
  }
}

void Server::accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      size_t open = 0;
      {
        std::lock_guard lock(sessions_mutex_);
        open = sessions_.size();
      }
      if (open >= static_cast<size_t>(options_.max_connections)) {
        beast::error_code ignored;
        socket.close(ignored);
      } else if (options_.tls) {
        std::make_shared<Session<TlsStream>>(std::move(socket), *this, *options_.tls)->start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(std::move(socket), *this)->start();
      }
    } else {
      spdlog::warn("accept failed: {}", ec.message());
    }
    accept();
  });
}

void Server::registerSession(SessionBase* session, std::weak_ptr<SessionBase> handle) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.emplace(session, std::move(handle));
}

void Server::unregisterSession(SessionBase* session) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.erase(session);
  if (sessions_.empty()) sessions_drained_.notify_all();
}

bool Server::shutdown(std::chrono::milliseconds grace) {
  if (threads_.empty()) return true;
  stopping_.store(true, std::memory_order_release);
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  std::vector<std::shared_ptr<SessionBase>> open;
  {
    std::lock_guard lock(sessions_mutex_);
    for (const auto& [raw, handle] : sessions_) {
      if (auto session = handle.lock()) open.push_back(std::move(session));
    }
  }
  for (const auto& session : open) session->closeIfIdle();
  open.clear();
  bool drained = false;
  {
    std::unique_lock lock(sessions_mutex_);
    drained = sessions_drained_.wait_for(lock, grace, [this] { return sessions_.empty(); });
  }
  io_.stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  return drained;
}

}  // namespace tp::http
