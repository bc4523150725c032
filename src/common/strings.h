#pragma once
// String helpers over std::string_view. (Debian's Abseil keeps its own string_view type, so the
// project formats with fmt and uses these instead of absl::StrCat and friends.)

#include <malloc.h>

#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "fmt/format.h"

namespace tp::common {

// Concatenates the text form of every argument: concat("port ", 80) == "port 80".
template <typename... Args>
std::string concat(const Args&... args) {
  std::string out;
  (fmt::format_to(std::back_inserter(out), "{}", args), ...);
  return out;
}

// `text` without " \t\r\n" at either end, found byte by byte: find_first_not_of would search the
// set once per byte, which shows on the logs path, where every line and number is trimmed.
inline std::string_view trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  size_t first = 0;
  while (first < text.size() && space(text[first])) ++first;
  size_t last = text.size();
  while (last > first && space(text[last - 1])) --last;
  return text.substr(first, last - first);
}

// Splits on `separator`, trims each part and leaves out empty parts.
std::vector<std::string_view> splitTrimmed(std::string_view text, char separator);

// Abseil's containers hash std::string keys through absl::string_view.
inline absl::string_view toAbsl(std::string_view text) { return {text.data(), text.size()}; }

// Frees a per-thread scratch buffer when one request made it larger than `keep`, so that a
// single huge (or hostile) body does not pin that much memory in every I/O thread.
// The freed pages go back to the system at once (glibc would keep them in its arenas).
inline void releaseIfLarger(std::string& scratch, size_t keep) {
  if (scratch.capacity() <= keep) return;
  std::string().swap(scratch);
  malloc_trim(0);
}

inline std::string_view message(const absl::Status& status) {
  return {status.message().data(), status.message().size()};
}

}  // namespace tp::common
