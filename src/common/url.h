#pragma once
// Minimal parser for the http(s) URLs the processor is configured with (storage endpoints).

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tp::common {

struct HttpUrl {
  std::string scheme;  // "http" or "https"
  std::string host;
  uint16_t port = 0;   // explicit or the scheme's default
  std::string target;  // path and query, "/" when absent
};

absl::StatusOr<HttpUrl> parseHttpUrl(std::string_view text);

}  // namespace tp::common
