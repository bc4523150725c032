#pragma once
// The query string of a request target, as API handlers read it.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tp::http {

// "%2C" -> ","; with `plus_is_space` (query strings), "+" -> " ". An escape that is not two hex
// digits stays as it is.
std::string percentDecode(std::string_view text, bool plus_is_space = false);

// The parameters of the target's query string ("/p?a=1&b=x%2Cy"), decoded, in order.
class QueryParameters {
 public:
  explicit QueryParameters(std::string_view target);

  // The first value of `name`; nullopt when absent ("?a" and "?a=" give "").
  std::optional<std::string_view> get(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

}  // namespace tp::http
