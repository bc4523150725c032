#include "app/remote_write_handler.h"

#include <span>
#include <vector>

#include "app/rejection.h"
#include "common/strings.h"

namespace tp::app {

absl::StatusOr<ingest::RemoteWriteVersion> parseRemoteWriteContentType(std::string_view header) {
  const std::string_view media = common::trim(header.substr(0, header.find(';')));
  if (media.empty()) return ingest::RemoteWriteVersion::kV1;
  if (media != "application/x-protobuf") {
    return absl::UnimplementedError(
        common::concat("unsupported Content-Type '", header, "' (use application/x-protobuf)"));
  }
  const size_t proto = header.find("proto=");
  if (proto == std::string_view::npos) return ingest::RemoteWriteVersion::kV1;
  const std::string_view message =
      common::trim(header.substr(proto + 6, header.find(';', proto) - proto - 6));
  if (message == "prometheus.WriteRequest") return ingest::RemoteWriteVersion::kV1;
  if (message == "io.prometheus.write.v2.Request") return ingest::RemoteWriteVersion::kV2;
  return absl::UnimplementedError(common::concat("unsupported remote-write message '", message,
                                                 "' (use prometheus.WriteRequest or "
                                                 "io.prometheus.write.v2.Request)"));
}

RemoteWriteHandler::RemoteWriteHandler(const cache::CacheRefresher& cache,
                                       forward::Forwarder* forwarder, size_t max_decoded_bytes,
                                       enrich::EnrichLimits enrich_limits,
                                       telemetry::RemoteWriteMetrics metrics)
    : cache_(cache),
      forwarder_(forwarder),
      max_decoded_bytes_(max_decoded_bytes),
      enrich_limits_(enrich_limits),
      metrics_(std::move(metrics)) {}

http::Response RemoteWriteHandler::reject(const http::RequestContext& context,
                                          const absl::Status& status) {
  return rejectRequest(context, status, metrics_.requests_rejected);
}

http::Response RemoteWriteHandler::handle(const http::RequestContext& context) {
  namespace field = boost::beast::http;
  const auto& request = context.request;
  auto version = parseRemoteWriteContentType(http::toStd(request[field::field::content_type]));
  if (!version.ok()) return reject(context, version.status());
  auto encoding =
      ingest::parseContentEncoding(http::toStd(request[field::field::content_encoding]));
  if (!encoding.ok()) return reject(context, encoding.status());
  if (absl::Status loaded = clusterStateLoaded(cache_); !loaded.ok()) {
    return deferRequest(context, loaded, metrics_.requests_deferred);
  }

  thread_local std::string decompressed;
  thread_local std::vector<prompb::OutputBuffer> encoded;  // one per lane
  thread_local std::vector<forward::LanePart> parts;
  const size_t lanes = forwarder_ != nullptr ? forwarder_->lanes() : 1;
  if (encoded.size() < lanes) encoded.resize(lanes);
  // A hostile or unusually large body must not pin its buffers in every I/O thread.
  constexpr size_t kScratchKeepBytes = 16 << 20;
  struct Release {
    ~Release() {
      common::releaseIfLarger(decompressed, kScratchKeepBytes);
      for (prompb::OutputBuffer& lane : encoded) {
        lane.releaseIfLarger(kScratchKeepBytes / encoded.size());
      }
    }
  } release_after_request;
  auto body = ingest::decompressBody(request.body(), *encoding, max_decoded_bytes_, decompressed);
  if (!body.ok()) return reject(context, body.status());

  const auto snapshot = cache_.snapshot();
  for (prompb::OutputBuffer& lane : encoded) lane.clear();
  enrich::SeriesEnricher enricher(*snapshot, std::span(encoded.data(), lanes), enrich_limits_);
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

  http::Response response{field::status::no_content, request.version()};
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
