#include "http/router.h"

#include "common/strings.h"

#include <algorithm>

#include "http/envelope.h"
#include "http/query.h"

namespace tp::http {

Router::Router(telemetry::Telemetry& telemetry)
    : telemetry_(telemetry), unmatched_metrics_(telemetry.routeMetrics("unmatched")) {}

namespace {

bool isParameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// "/a/b" -> {"a", "b"}; "/" -> {""}.
std::vector<std::string_view> segmentsOf(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = path.starts_with('/') ? 1 : 0;
  while (true) {
    const size_t slash = path.find('/', start);
    segments.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return segments;
    start = slash + 1;
  }
}

}  // namespace

std::string_view PathParameters::get(std::string_view name) const {
  for (const auto& [known, value] : values_) {
    if (known == name) return value;
  }
  return {};
}

void PathParameters::add(std::string_view name, std::string value) {
  values_.emplace_back(name, std::move(value));
}

void Router::add(std::string path, std::vector<beast_http::verb> methods, Handler handler) {
  telemetry::RouteMetrics metrics = telemetry_.routeMetrics(path);
  std::vector<std::string> pattern;
  const std::vector<std::string_view> segments = segmentsOf(path);
  if (std::any_of(segments.begin(), segments.end(), isParameter)) {
    pattern.assign(segments.begin(), segments.end());
  }
  routes_.push_back(
      {std::move(path), std::move(methods), std::move(handler), metrics, std::move(pattern)});
}

Router::Match Router::matched(const Route& route, beast_http::verb method,
                              std::string_view path) const {
  const bool allowed =
      route.methods.empty() ||
      std::find(route.methods.begin(), route.methods.end(), method) != route.methods.end();
  return {allowed ? Outcome::kFound : Outcome::kMethodNotAllowed, &route, path};
}

Router::Match Router::match(beast_http::verb method, std::string_view target) const {
  std::string_view path = target.substr(0, target.find('?'));
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  for (const Route& route : routes_) {
    if (route.pattern.empty() && route.path == path) return matched(route, method, path);
  }
  const std::vector<std::string_view> segments = segmentsOf(path);
  for (const Route& route : routes_) {
    if (route.pattern.empty() || route.pattern.size() != segments.size()) continue;
    PathParameters parameters;
    bool same = true;
    for (size_t i = 0; i < segments.size() && same; ++i) {
      const std::string_view expected = route.pattern[i];
      if (!isParameter(expected)) {
        same = expected == segments[i];
      } else if (segments[i].empty()) {
        same = false;
      } else {
        parameters.add(expected.substr(1, expected.size() - 2), percentDecode(segments[i]));
      }
    }
    if (!same) continue;
    Match match = matched(route, method, path);
    match.parameters = std::move(parameters);
    return match;
  }
  return {Outcome::kNotFound, nullptr, path};
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
