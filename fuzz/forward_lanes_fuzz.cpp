// Cutting encoded series into lanes: arbitrary bytes must split or be refused without a crash;
// a split keeps every byte, each in exactly one lane, and a second split of the same bytes puts
// them in the same lanes.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "forward/lanes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t lanes = 1 + data[0] % 8;
  const std::string_view fields(reinterpret_cast<const char*>(data) + 1, size - 1);
  tp::forward::LaneParts parts;
  if (!tp::forward::splitIntoLanes(fields, lanes, parts).ok()) return 0;
  size_t bytes = 0;
  for (const auto& part : parts.fields) bytes += part.size();
  if (parts.fields.size() != lanes || bytes != fields.size()) __builtin_trap();
  tp::forward::LaneParts again;
  if (!tp::forward::splitIntoLanes(fields, lanes, again).ok() || again.fields != parts.fields ||
      again.samples != parts.samples) {
    __builtin_trap();
  }
  return 0;
}
