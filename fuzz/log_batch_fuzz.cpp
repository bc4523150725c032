// Fluent Bit batches: arbitrary bytes through the JSON array and JSON lines parsers (the first
// byte picks the format), every accepted record read in full and run through the extractor.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "ingest/fluentbit/log_batch.h"
#include "training/performance_extractor.h"

namespace {

class CheckingSink : public tp::ingest::LogRecordSink {
 public:
  void onRecord(const tp::ingest::LogRecord& record) override {
    // Touch every view: a dangling one is an ASan report.
    for (std::string_view text : {record.message, record.pod_name, record.pod_uid,
                                  record.namespace_name, record.host, record.container_name}) {
      checksum_ += std::hash<std::string_view>()(text);
    }
    tp::training::Performance performance;
    extractor_.extract(record.message, &performance);
  }
  void onSkipped(size_t, tp::ingest::SkipReason reason) override {
    if (reason >= tp::ingest::SkipReason::kCount) __builtin_trap();
  }

 private:
  size_t checksum_ = 0;
  const tp::training::PerformanceExtractor extractor_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto format = (data[0] & 1) != 0 ? tp::ingest::LogBatchFormat::kJsonLines
                                         : tp::ingest::LogBatchFormat::kJsonArray;
  std::string padded(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t body_size = padded.size();
  padded.append(tp::ingest::kLogBatchPadding, ' ');
  tp::ingest::LogBatchLimits limits;
  limits.max_string_bytes = 4096;
  CheckingSink sink;
  const absl::Status status =
      tp::ingest::parseLogBatch(std::string_view(padded.data(), body_size), format, limits, sink);
  if (!status.ok() && status.message().empty()) __builtin_trap();
  return 0;
}
