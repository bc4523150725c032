#include "app/remote_write_handler.h"

#include <optional>
#include <span>
#include <vector>

#include "app/rejection.h"
#include "common/scratch_release.h"
#include "common/strings.h"
#include "ingest/remote_write/content_type.h"

namespace tp::app {

namespace beast_http = boost::beast::http;

RemoteWriteHandler::RemoteWriteHandler(const cache::CacheRefresher& cache,
                                       forward::Forwarder* forwarder, size_t max_decoded_bytes,
                                       enrich::EnrichLimits enrich_limits,
                                       telemetry::RemoteWriteMetrics metrics,
                                       enrich::SeriesTracer& tracer, enrich::ActiveMetrics& active)
    : cache_(cache),
      forwarder_(forwarder),
      max_decoded_bytes_(max_decoded_bytes),
      enrich_limits_(enrich_limits),
      metrics_(std::move(metrics)),
      tracer_(tracer),
      active_(active) {}

http::Response RemoteWriteHandler::reject(const http::RequestContext& context,
                                          const absl::Status& status) {
  return rejectRequest(context, status, metrics_.requests_rejected);
}

http::Response RemoteWriteHandler::handle(const http::RequestContext& context) {
  const auto& request = context.request;
  auto version =
      ingest::parseRemoteWriteContentType(http::toStd(request[beast_http::field::content_type]));
  if (!version.ok()) return reject(context, version.status());
  auto encoding =
      ingest::parseContentEncoding(http::toStd(request[beast_http::field::content_encoding]));
  if (!encoding.ok()) return reject(context, encoding.status());
  if (absl::Status loaded = clusterStateLoaded(cache_); !loaded.ok()) {
    return deferRequest(context, loaded, metrics_.requests_deferred);
  }

  thread_local std::string decompressed;
  thread_local std::vector<prompb::OutputBuffer> encoded;  // one per lane
  thread_local std::vector<forward::LanePart> parts;
  const size_t lanes = forwarder_ != nullptr ? forwarder_->lanes() : 1;
  if (encoded.size() < lanes) encoded.resize(lanes);
  const common::ScratchRelease release_after_request(common::kScratchKeepBytes, decompressed,
                                                     encoded);
  auto body = ingest::decompressBody(request.body(), *encoding, max_decoded_bytes_, decompressed);
  if (!body.ok()) return reject(context, body.status());

  const auto snapshot = cache_.snapshot();
  for (prompb::OutputBuffer& lane : encoded) lane.clear();
  enrich::SeriesEnricher enricher(*snapshot, std::span(encoded.data(), lanes), enrich_limits_);
  enrich::ActiveMetrics::Batch active(active_);
  std::optional<enrich::SeriesTracer::Session> trace;
  if (tracer_.enabled()) trace.emplace(tracer_.session());
  // The active names always, the tracer while enabled.
  enrich::RequestObservers observers(active, trace ? &*trace : nullptr);
  enricher.setObserver(&observers);
  ingest::DecodeCounts received;
  if (absl::Status status = ingest::decodeWriteRequest(*body, *version, enricher, &received);
      !status.ok()) {
    return reject(context, status);
  }
  const enrich::EnrichCounts& counts = enricher.counts();
  if (forwarder_ != nullptr) {
    parts.resize(lanes);
    for (size_t lane = 0; lane < lanes; ++lane) {
      parts[lane] = {encoded[lane].view(), enricher.laneSamples()[lane]};
    }
    if (absl::Status queued = forwarder_->submit(parts); !queued.ok()) {
      return deferRequest(context, queued, metrics_.requests_deferred);
    }
  }

  active.commit();
  if (trace) trace->commit();
  metrics_.series_received->Increment(static_cast<double>(received.series));
  metrics_.samples_received->Increment(static_cast<double>(received.samples));
  metrics_.histograms_received->Increment(static_cast<double>(received.histograms));
  metrics_.exemplars_received->Increment(static_cast<double>(received.exemplars));
  metrics_.series_forwarded->Increment(static_cast<double>(counts.series_out));
  metrics_.samples_forwarded->Increment(static_cast<double>(counts.samples_out));
  for (size_t i = 0; i < counts.dropped_series.size(); ++i) {
    if (counts.dropped_series[i] != 0) {
      metrics_.series_dropped[i]->Increment(static_cast<double>(counts.dropped_series[i]));
    }
    if (counts.dropped_samples[i] != 0) {
      metrics_.samples_dropped[i]->Increment(static_cast<double>(counts.dropped_samples[i]));
    }
  }

  http::Response response{beast_http::status::no_content, request.version()};
  response.keep_alive(request.keep_alive());
  if (*version == ingest::RemoteWriteVersion::kV2) {
    // What the processor took responsibility for; series it does not forward by design (no pod)
    // are accepted too, so senders do not retry them.
    response.set("X-Prometheus-Remote-Write-Samples-Written", std::to_string(received.samples));
    response.set("X-Prometheus-Remote-Write-Histograms-Written",
                 std::to_string(received.histograms));
    response.set("X-Prometheus-Remote-Write-Exemplars-Written", std::to_string(received.exemplars));
  }
  return response;
}

}  // namespace tp::app
