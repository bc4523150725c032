#include "http/router.h"

#include "common/strings.h"

#include <algorithm>

#include "http/envelope.h"

namespace tp::http {

Router::Router(telemetry::Telemetry& telemetry)
    : telemetry_(telemetry), unmatched_metrics_(telemetry.routeMetrics("unmatched")) {}

void Router::add(std::string path, std::vector<beast_http::verb> methods, Handler handler) {
  telemetry::RouteMetrics metrics = telemetry_.routeMetrics(path);
  routes_.push_back({std::move(path), std::move(methods), std::move(handler), metrics});
}

Router::Match Router::match(beast_http::verb method, std::string_view target) const {
  std::string_view path = target.substr(0, target.find('?'));
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  const auto it = std::find_if(routes_.begin(), routes_.end(),
                               [path](const Route& route) { return route.path == path; });
  if (it == routes_.end()) return {Outcome::kNotFound, nullptr, path};
  const Route& route = *it;
  const bool allowed =
      route.methods.empty() ||
      std::find(route.methods.begin(), route.methods.end(), method) != route.methods.end();
  return {allowed ? Outcome::kFound : Outcome::kMethodNotAllowed, &route, path};
}

std::string Router::allowHeader(const Route& route) {
  std::string allow;
  for (const beast_http::verb method : route.methods) {
    if (!allow.empty()) allow += ", ";
    const auto name = beast_http::to_string(method);
    allow.append(name.data(), name.size());
  }
  return allow;
}

Response textResponse(const Request& request, unsigned status, const std::string& content_type,
                      std::string body) {
  Response response{static_cast<beast_http::status>(status), request.version()};
  response.set(beast_http::field::content_type, content_type);
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

Response jsonResponse(const Request& request, unsigned status, std::string body) {
  return textResponse(request, status, "application/json", std::move(body));
}

Response errorResponse(const Request& request, unsigned status, std::string_view message) {
  return jsonResponse(request, status, envelopeError(status, message));
}

}  // namespace tp::http
