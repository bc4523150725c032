#pragma once
// Compresses test payloads the way clients do (Fluent Bit's `compress gzip`).

#include <string>
#include <string_view>

namespace tp::testing {

std::string gzipCompress(std::string_view data);

}  // namespace tp::testing
