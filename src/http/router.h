#pragma once
// Maps (method, path) to a handler. Every route answers with and without the "/v1" prefix that
// deployed clients use; the query string is ignored for matching. A route's path may hold
// "{name}" segments, each matching one non-empty segment whose value the handler reads; a path
// without them is matched first.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "boost/beast/http.hpp"
#include "telemetry/telemetry.h"

namespace tp::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;

// Beast (Boost 1.74) has its own string_view type.
inline std::string_view toStd(boost::beast::string_view text) { return {text.data(), text.size()}; }

// The values of a route's "{name}" segments in one request path, percent-decoded.
class PathParameters {
 public:
  // Empty when the route has no segment called `name`.
  std::string_view get(std::string_view name) const;
  void add(std::string_view name, std::string value);

 private:
  std::vector<std::pair<std::string_view, std::string>> values_;  // names view the route's path
};

struct RequestContext {
  const Request& request;
  std::string_view path;  // without "/v1" and without the query string
  std::string_view remote_address;
  PathParameters parameters = {};
};

using Handler = std::function<Response(const RequestContext&)>;

struct Route {
  std::string path;
  std::vector<beast_http::verb> methods;  // empty = any method
  Handler handler;
  telemetry::RouteMetrics metrics;
  // The segments of a path with "{name}" segments; empty for a literal path.
  std::vector<std::string> pattern;
};

class Router {
 public:
  explicit Router(telemetry::Telemetry& telemetry);

  // `path` without the "/v1" prefix, e.g. "/healthz" or "/training/{workload_uid}/data". The
  // path is the route's metrics label.
  void add(std::string path, std::vector<beast_http::verb> methods, Handler handler);

  enum class Outcome { kFound, kNotFound, kMethodNotAllowed };
  struct Match {
    Outcome outcome;
    const Route* route;     // set when kFound or kMethodNotAllowed
    std::string_view path;  // normalised path
    PathParameters parameters = {};
  };
  Match match(beast_http::verb method, std::string_view target) const;

  // Metrics of requests that matched no route (404) or could not be parsed.
  const telemetry::RouteMetrics& unmatchedMetrics() const { return unmatched_metrics_; }

  // "GET, HEAD" for a route's Allow header.
  static std::string allowHeader(const Route& route);

 private:
  telemetry::Telemetry& telemetry_;
  Match matched(const Route& route, beast_http::verb method, std::string_view path) const;

  std::vector<Route> routes_;  // a handful: a linear scan beats hashing
  telemetry::RouteMetrics unmatched_metrics_;
};

// Helpers that build complete responses in the Lens envelope or as plain bodies.
Response jsonResponse(const Request& request, unsigned status, std::string body);
Response errorResponse(const Request& request, unsigned status, std::string_view message);
Response textResponse(const Request& request, unsigned status, const std::string& content_type,
                      std::string body);

}  // namespace tp::http
