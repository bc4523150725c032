// Row journal records: arbitrary bytes must decode or be refused without a crash. What decodes
// must encode to the same bytes when it was written in the current form (exactly one encoding
// per content); a record of the earlier form must encode to one that decodes to the same items.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "training/item_codec.h"

namespace {

bool same(const tp::training::TrainingItems& a, const tp::training::TrainingItems& b) {
  return a.starts == b.starts && a.performances == b.performances && a.lifecycles == b.lifecycles;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tp::training::TrainingItems items;
  if (tp::training::decodeItems(bytes, items)) {
    std::string encoded;
    tp::training::encodeItems(items, encoded);
    if (encoded[0] == bytes[0]) {
      if (encoded != bytes) __builtin_trap();
    } else {
      tp::training::TrainingItems again;
      if (!tp::training::decodeItems(encoded, again) || !same(items, again)) __builtin_trap();
    }
  } else if (!items.empty()) {
    __builtin_trap();  // a refused record leaves nothing behind
  }
  return 0;
}
