// Row journal records: arbitrary bytes must decode or be refused without a crash; what decodes
// must encode back to the same bytes (the form has exactly one encoding per content).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "training/item_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tp::training::TrainingItems items;
  if (tp::training::decodeItems(bytes, items)) {
    std::string encoded;
    tp::training::encodeItems(items, encoded);
    if (encoded != bytes) __builtin_trap();
  } else if (!items.empty()) {
    __builtin_trap();  // a refused record leaves nothing behind
  }
  return 0;
}
