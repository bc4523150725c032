#include "app/logs_handler.h"

#include <chrono>
#include <cstring>

#include "app/rejection.h"
#include "common/scratch_release.h"
#include "common/strings.h"
#include "http/envelope.h"
#include "ingest/fluentbit/content_type.h"
#include "ingest/fluentbit/gzip.h"
#include "training/log_batch_analyzer.h"

namespace tp::app {
namespace {

namespace beast_http = boost::beast::http;

}  // namespace

LogsHandler::LogsHandler(const cache::CacheRefresher& cache, training::PatternRegistry& patterns,
                         training::TrainingWriter& writer, LogsHandlerOptions options,
                         telemetry::LogsMetrics metrics, const common::Clock& clock)
    : cache_(cache),
      patterns_(patterns),
      writer_(writer),
      options_(options),
      metrics_(std::move(metrics)),
      clock_(clock) {}

http::Response LogsHandler::reject(const http::RequestContext& context,
                                   const absl::Status& status) {
  return rejectRequest(context, status, metrics_.requests_rejected);
}

http::Response LogsHandler::handle(const http::RequestContext& context) {
  const auto& request = context.request;
  const auto encoding =
      ingest::parseLogEncoding(http::toStd(request[beast_http::field::content_encoding]));
  if (!encoding.ok()) return reject(context, encoding.status());
  if (absl::Status loaded = clusterStateLoaded(cache_); !loaded.ok()) {
    return deferRequest(context, loaded, metrics_.requests_deferred);
  }

  // The parser reads past the end in blocks: the body goes into a padded per-thread buffer.
  thread_local std::string padded;
  const common::ScratchRelease release_after_request(common::kScratchKeepBytes, padded);
  size_t size = 0;
  if (*encoding == ingest::LogEncoding::kGzip) {
    auto inflated = ingest::inflateGzip(request.body(), options_.max_decoded_bytes,
                                        ingest::kLogBatchPadding, padded);
    if (!inflated.ok()) return reject(context, inflated.status());
    size = *inflated;
  } else {
    size = request.body().size();
    padded.resize(size + ingest::kLogBatchPadding);
    std::memcpy(padded.data(), request.body().data(), size);
  }
  std::memset(padded.data() + size, ' ', ingest::kLogBatchPadding);
  const std::string_view body(padded.data(), size);
  // After decoding: without a JSON type, the body's first byte decides.
  const auto format =
      ingest::selectLogBatchFormat(http::toStd(request[beast_http::field::content_type]), body);
  if (!format.ok()) return reject(context, format.status());

  const auto snapshot = cache_.snapshot();
  const std::shared_ptr<const training::PerformanceExtractor> extractor = patterns_.current();
  training::LogBatchAnalyzer analyzer(*snapshot, *extractor, context.remote_address,
                                      common::microsSinceEpoch(clock_.wallNow()));
  if (absl::Status status = ingest::parseLogBatch(body, *format, options_.limits, analyzer);
      !status.ok()) {
    return reject(context, status);
  }
  const size_t events = analyzer.items().starts.size();
  const size_t rows = analyzer.items().performances.size();
  const size_t lifecycle = analyzer.items().lifecycles.size();
  if (absl::Status journaled = writer_.submit(analyzer.items()); !journaled.ok()) {
    return deferRequest(context, journaled, metrics_.requests_deferred);
  }
  analyzer.commit(metrics_);
  patterns_.recordHits(*extractor, analyzer.storedHits());
  return http::jsonResponse(
      request, 200,
      http::envelopeOk(common::concat(R"({"records":)", analyzer.records(), R"(,"skipped":)",
                                      analyzer.skipped(), R"(,"events":)", events, R"(,"rows":)",
                                      rows, R"(,"lifecycle_events":)", lifecycle, "}")));
}

}  // namespace tp::app
