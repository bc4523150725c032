// Config loader: arbitrary bytes as a YAML/JSON config file must give a Config or an error
// naming the problem, never a crash, hang or leak.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = tp::config::loadConfigText(text, "fuzz");
  if (!config.ok() && config.status().message().empty()) __builtin_trap();
  return 0;
}
