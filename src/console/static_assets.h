#pragma once
// The web console's files: the pages of src/console/assets and Debian's dygraphs, embedded into
// the binary at build time (cmake/EmbedAssets.cmake), served under /ui/ with nothing read or
// fetched at run time. The files hold no data (the pages ask the API for it), so with bearer
// tokens only they are left unauthenticated and the page asks for the token.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/router.h"

namespace tp::console {

struct EmbeddedAsset {
  std::string_view name;  // its path under /ui/
  std::string_view content_type;
  std::string_view etag;  // quoted, as the header carries it
  std::span<const unsigned char> bytes;
};

// Every file, in the order CMake listed them (generated).
std::span<const EmbeddedAsset> embeddedAssets();

// The route paths that serve the files: "/ui", "/ui/" (index.html) and "/ui/<name>".
std::vector<std::string> assetPaths();

// GET of each path; /ui redirects to /ui/. A request whose If-None-Match names the file's ETag
// gets 304.
void addStaticRoutes(http::Router& router);

}  // namespace tp::console
