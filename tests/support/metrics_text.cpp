#include "support/metrics_text.h"

#include <cstdlib>
#include <regex>

namespace tp::testing {

std::optional<double> metricValue(std::string_view exposition, const std::string& series) {
  const std::regex sample("(?:^|\n)" + series + " (\\S+)");
  std::match_results<std::string_view::const_iterator> match;
  if (!std::regex_search(exposition.begin(), exposition.end(), match, sample)) return std::nullopt;
  return std::strtod(match[1].str().c_str(), nullptr);
}

std::string metricLines(std::string_view exposition, std::string_view prefix) {
  std::string lines;
  size_t start = 0;
  while (start < exposition.size()) {
    const size_t end = std::min(exposition.find('\n', start), exposition.size());
    const std::string_view line = exposition.substr(start, end - start);
    if (line.starts_with(prefix)) lines.append(line).push_back('\n');
    start = end + 1;
  }
  return lines;
}

}  // namespace tp::testing
