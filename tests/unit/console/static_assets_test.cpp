// The console's embedded files: byte for byte the files they were made from, served with their
// type and ETag, revalidated with 304, and /ui sent on to /ui/.

#include "console/static_assets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>

#include "telemetry/telemetry.h"

namespace tp::console {
namespace {

std::string fileBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

const EmbeddedAsset& asset(std::string_view name) {
  const auto assets = embeddedAssets();
  const auto found = std::find_if(assets.begin(), assets.end(),
                                  [name](const EmbeddedAsset& one) { return one.name == name; });
  EXPECT_NE(found, assets.end()) << name;
  return *found;
}

class StaticRoutes : public ::testing::Test {
 protected:
  StaticRoutes() { addStaticRoutes(router_); }

  http::Response get(std::string_view target, std::string_view if_none_match = {}) {
    http::Request request{http::beast_http::verb::get, std::string(target), 11};
    if (!if_none_match.empty()) {
      request.set(http::beast_http::field::if_none_match,
                  boost::beast::string_view(if_none_match.data(), if_none_match.size()));
    }
    const http::Router::Match match = router_.match(request.method(), target);
    EXPECT_EQ(match.outcome, http::Router::Outcome::kFound) << target;
    if (match.outcome != http::Router::Outcome::kFound) return {};
    return match.route->handler({request, match.path, "127.0.0.1", match.parameters});
  }

  telemetry::Telemetry telemetry_{"test"};
  http::Router router_{telemetry_};
};

TEST(EmbeddedAssets, AreTheFilesTheyWereMadeFrom) {
  EXPECT_EQ(std::string(asset("dygraph.min.js").bytes.begin(), asset("dygraph.min.js").bytes.end()),
            fileBytes("/usr/share/javascript/dygraphs/dygraph.min.js"));
  const EmbeddedAsset& index = asset("index.html");
  EXPECT_EQ(std::string(index.bytes.begin(), index.bytes.end()),
            fileBytes(TP_CONSOLE_ASSETS_DIR "/index.html"));
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(asset("app.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(asset("favicon.svg").content_type, "image/svg+xml");
  // A quoted digest: equal files share it, others do not.
  EXPECT_TRUE(index.etag.starts_with('"') && index.etag.ends_with('"') && index.etag.size() == 18);
  EXPECT_NE(index.etag, asset("app.js").etag);
}

TEST(EmbeddedAssets, EachHasItsPath) {
  const std::vector<std::string> paths = assetPaths();
  for (const EmbeddedAsset& one : embeddedAssets()) {
    EXPECT_NE(std::find(paths.begin(), paths.end(), std::string("/ui/").append(one.name)),
              paths.end())
        << one.name;
  }
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/ui/"), paths.end());
}

TEST_F(StaticRoutes, ServeTheFilesWithTheirTypeAndRevalidateThem) {
  const http::Response index = get("/ui/");
  EXPECT_EQ(index.result_int(), 200u);
  EXPECT_EQ(http::toStd(index[http::beast_http::field::content_type]), "text/html; charset=utf-8");
  EXPECT_NE(index.body().find("<title>Telemetry Processor</title>"), std::string::npos);
  EXPECT_FALSE(index["Content-Security-Policy"].empty());
  const std::string etag(http::toStd(index[http::beast_http::field::etag]));
  EXPECT_EQ(etag, asset("index.html").etag);

  const http::Response fresh = get("/ui/", etag);
  EXPECT_EQ(fresh.result_int(), 304u);
  EXPECT_TRUE(fresh.body().empty());
  EXPECT_EQ(get("/ui/", "\"other\"").result_int(), 200u);

  const http::Response chart = get("/v1/ui/dygraph.min.js");
  EXPECT_EQ(chart.result_int(), 200u);
  EXPECT_EQ(chart.body().size(), asset("dygraph.min.js").bytes.size());
}

TEST_F(StaticRoutes, UiWithoutItsSlashIsSentOnRelatively) {
  const http::Response moved = get("/ui");
  EXPECT_EQ(moved.result_int(), 308u);
  EXPECT_EQ(http::toStd(moved[http::beast_http::field::location]), "ui/");
}

}  // namespace
}  // namespace tp::console
