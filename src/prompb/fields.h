#pragma once
// The field numbers of the remote-write messages, the one table the decoder, the enricher's
// encoder and the tests use: prometheus/prompb (1.0, prometheus.WriteRequest) and
// io.prometheus.write.v2 (2.0). One namespace per message, named after it. Native histograms are
// forwarded as the bytes they came as, so their own fields are not listed.

#include <cstdint>

namespace tp::prompb {

namespace v1 {
namespace write_request {
inline constexpr uint32_t kTimeseries = 1;
inline constexpr uint32_t kMetadata = 3;
}  // namespace write_request
namespace time_series {
inline constexpr uint32_t kLabels = 1;
inline constexpr uint32_t kSamples = 2;
inline constexpr uint32_t kExemplars = 3;
inline constexpr uint32_t kHistograms = 4;  // a Histogram message, kept as bytes
}  // namespace time_series
namespace label {
inline constexpr uint32_t kName = 1;
inline constexpr uint32_t kValue = 2;
}  // namespace label
namespace sample {
inline constexpr uint32_t kValue = 1;
inline constexpr uint32_t kTimestamp = 2;
}  // namespace sample
namespace exemplar {
inline constexpr uint32_t kLabels = 1;
inline constexpr uint32_t kValue = 2;
inline constexpr uint32_t kTimestamp = 3;
}  // namespace exemplar
namespace metric_metadata {
inline constexpr uint32_t kType = 1;
inline constexpr uint32_t kMetricFamilyName = 2;
inline constexpr uint32_t kHelp = 4;
inline constexpr uint32_t kUnit = 5;
}  // namespace metric_metadata
}  // namespace v1

namespace v2 {
namespace request {
inline constexpr uint32_t kSymbols = 4;
inline constexpr uint32_t kTimeseries = 5;
}  // namespace request
namespace time_series {
inline constexpr uint32_t kLabelsRefs = 1;
inline constexpr uint32_t kSamples = 2;
inline constexpr uint32_t kHistograms = 3;  // a Histogram message, kept as bytes
inline constexpr uint32_t kExemplars = 4;
inline constexpr uint32_t kMetadata = 5;
}  // namespace time_series
namespace sample {
inline constexpr uint32_t kValue = 1;
inline constexpr uint32_t kTimestamp = 2;
}  // namespace sample
namespace exemplar {
inline constexpr uint32_t kLabelsRefs = 1;
inline constexpr uint32_t kValue = 2;
inline constexpr uint32_t kTimestamp = 3;
}  // namespace exemplar
namespace metadata {
inline constexpr uint32_t kType = 1;
inline constexpr uint32_t kHelpRef = 3;
inline constexpr uint32_t kUnitRef = 4;
}  // namespace metadata
}  // namespace v2

}  // namespace tp::prompb
