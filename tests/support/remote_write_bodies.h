#pragma once
// Remote-write bodies as a sender posts them, for tests of the processor binary.

#include <cstdint>
#include <string>
#include <string_view>

#include "remote_v1.pb.h"

namespace tp::testing {

// `series` series k="0".."series-1" of `metric` on GPU 0 of node-a (the test clusters' training
// pod), each with `samples_each` samples: value i at `timestamp_ms` + i.
::prompb::WriteRequest gpuSeriesRequest(std::string_view metric, int series, int samples_each,
                                        int64_t timestamp_ms);
// The request snappy-compressed, as a sender posts it.
std::string compressedBody(const ::prompb::WriteRequest& request);

// A snappy-compressed 1.0 WriteRequest with one sample (value 1 at `timestamp_ms`) of GPU 0 on
// node-a: the series the test clusters' training pod owns.
std::string gpuSampleBody(int64_t timestamp_ms);

}  // namespace tp::testing
