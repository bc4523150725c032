#pragma once
// Remote-write bodies as a sender posts them, for tests of the processor binary.

#include <cstdint>
#include <string>

namespace tp::testing {

// A snappy-compressed 1.0 WriteRequest with one sample (value 1 at `timestamp_ms`) of GPU 0 on
// node-a: the series the test clusters' training pod owns.
std::string gpuSampleBody(int64_t timestamp_ms);

}  // namespace tp::testing
