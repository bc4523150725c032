// An endpoint's lane mapping file: arbitrary text must parse or be refused without a crash; what
// parses must format to text that parses to the same mapping.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "forward/lanes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto mapping = tp::forward::parseLaneMapping(text);
  if (!mapping) return 0;
  const auto again = tp::forward::parseLaneMapping(tp::forward::formatLaneMapping(*mapping));
  if (!again || !(*again == *mapping)) __builtin_trap();
  return 0;
}
