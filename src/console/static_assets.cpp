#include "console/static_assets.h"

#include <algorithm>

namespace tp::console {
namespace {

constexpr std::string_view kIndex = "index.html";
// The pages load only their own files; dygraphs sets inline styles on the charts it draws.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'";

boost::beast::string_view beastView(std::string_view text) { return {text.data(), text.size()}; }

const EmbeddedAsset* findAsset(std::string_view name) {
  const auto assets = embeddedAssets();
  const auto found = std::find_if(assets.begin(), assets.end(), [name](const EmbeddedAsset& asset) {
    return asset.name == name;
  });
  return found == assets.end() ? nullptr : &*found;
}

http::Response serve(const http::Request& request, const EmbeddedAsset& asset) {
  const bool fresh = http::toStd(request[http::beast_http::field::if_none_match]) == asset.etag;
  http::Response response = http::textResponse(
      request, fresh ? 304 : 200, std::string(asset.content_type),
      fresh ? std::string() : std::string(asset.bytes.begin(), asset.bytes.end()));
  response.set(http::beast_http::field::etag, beastView(asset.etag));
  // Revalidated on every load: a new binary's files are seen at once.
  response.set(http::beast_http::field::cache_control, "no-cache");
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Content-Security-Policy", beastView(kContentSecurityPolicy));
  response.set("Referrer-Policy", "no-referrer");
  return response;
}

}  // namespace

std::vector<std::string> assetPaths() {
  std::vector<std::string> paths = {"/ui", "/ui/"};
  for (const EmbeddedAsset& asset : embeddedAssets()) {
    paths.push_back(std::string("/ui/").append(asset.name));
  }
  return paths;
}

void addStaticRoutes(http::Router& router) {
  router.add("/ui", {http::beast_http::verb::get}, [](const http::RequestContext& context) {
    // Relative, so that it holds behind a path prefix and under /v1 alike.
    http::Response response = http::textResponse(context.request, 308, "text/plain", "");
    response.set(http::beast_http::field::location, "ui/");
    return response;
  });
  const EmbeddedAsset* index = findAsset(kIndex);
  if (index != nullptr) {
    router.add("/ui/", {http::beast_http::verb::get}, [index](const http::RequestContext& context) {
      return serve(context.request, *index);
    });
  }
  for (const EmbeddedAsset& asset : embeddedAssets()) {
    router.add(
        std::string("/ui/").append(asset.name), {http::beast_http::verb::get},
        [&asset](const http::RequestContext& context) { return serve(context.request, asset); });
  }
}

}  // namespace tp::console
