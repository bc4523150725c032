#include "console/overview_api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>

#include "common/json_writer.h"
#include "common/strings.h"
#include "http/envelope.h"
#include "http/query.h"

namespace tp::console {
namespace {

constexpr int kDefaultWindowSeconds = 900;
constexpr int kDefaultStepSeconds = 5;

void writeNumber(common::JsonWriter& writer, double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 9e15) {
    writer.Int64(static_cast<int64_t>(value));
  } else if (std::isfinite(value)) {
    writer.Double(value);
  } else {
    writer.Null();
  }
}

void writeRates(common::JsonWriter& writer, const telemetry::RateWindow& window) {
  writer.StartObject();
  writer.Key("step_seconds");
  writer.Int(window.step_seconds);
  writer.Key("end");
  writer.Int64(window.end_seconds);
  writer.Key("flows");
  writer.StartArray();
  for (const telemetry::FlowRates& flow : window.flows) {
    writer.StartObject();
    writer.Key("group");
    common::writeString(writer, flow.group);
    writer.Key("kind");
    common::writeString(writer, flow.kind);
    writer.Key("name");
    common::writeString(writer, flow.name);
    writer.Key("per_second");
    writer.StartArray();
    for (const std::optional<double>& rate : flow.per_second) {
      if (rate) {
        writeNumber(writer, *rate);
      } else {
        writer.Null();
      }
    }
    writer.EndArray();
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
}

void writeCache(common::JsonWriter& writer, const cache::CacheRefresher& cache,
                const telemetry::OverviewGauges& gauges, int64_t now_seconds) {
  const cache::SnapshotOrigin origin = cache.origin();
  const auto snapshot = cache.snapshot();
  writer.StartObject();
  writer.Key("loaded");
  writer.Bool(cache.loaded());
  writer.Key("source");
  common::writeString(writer, cache::sourceName(origin.source));
  writer.Key("generation");
  writer.Uint64(origin.generation);
  writer.Key("age_seconds");
  writer.Int64(origin.age.count());
  writer.Key("last_refresh");
  if (gauges.cache_last_refresh_success > 0) {
    writer.Int64(static_cast<int64_t>(gauges.cache_last_refresh_success));
    writer.Key("last_refresh_age_seconds");
    writer.Int64(now_seconds - static_cast<int64_t>(gauges.cache_last_refresh_success));
  } else {
    writer.Null();
  }
  writer.Key("refresh_failures");
  writeNumber(writer, gauges.cache_refresh_failures);
  writer.Key("nodes");
  writer.Uint64(snapshot->nodeCount());
  writer.Key("devices");
  writer.Uint64(snapshot->deviceCount());
  writer.Key("pods");
  writer.Uint64(snapshot->podNameCount());
  writer.Key("pod_uids");
  writer.Uint64(snapshot->podCount());
  writer.Key("workloads");
  writer.Uint64(snapshot->workloadCount());
  writer.Key("ignored_devices");
  writer.StartObject();
  writer.Key("unknown_device_type");
  writer.Uint64(snapshot->ignoredUnknownType());
  writer.Key("gpu_without_device_no");
  writer.Uint64(snapshot->ignoredWithoutNumber());
  writer.EndObject();
  writer.EndObject();
}

std::optional<int> parseBounded(std::optional<std::string_view> text, int fallback, int low,
                                int high) {
  if (!text) return fallback;
  int value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < low || value > high) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::string overviewJson(const OverviewSources& sources, int64_t now_seconds, int window_seconds,
                         int step_seconds) {
  const telemetry::OverviewGauges gauges = telemetry::overviewGauges(sources.telemetry.collect());
  const std::vector<std::string> not_ready = sources.not_ready_reasons();
  const std::vector<forward::EndpointBacklog> backlog =
      sources.forwarder != nullptr ? sources.forwarder->backlog()
                                   : std::vector<forward::EndpointBacklog>{};
  // The rates end at the last second sampled, so that the newest point is a whole one.
  const int64_t end = sources.rates.lastSample().value_or(now_seconds);
  const auto points = static_cast<size_t>(window_seconds / step_seconds);
  const telemetry::RateWindow window = sources.rates.window(end, step_seconds, points);
  return http::envelopeOkWriting([&](common::JsonWriter& writer) {
    writer.StartObject();
    writer.Key("now");
    writer.Int64(now_seconds);
    writer.Key("ready");
    writer.Bool(not_ready.empty());
    writer.Key("not_ready_reasons");
    writer.StartArray();
    for (const std::string& reason : not_ready) common::writeString(writer, reason);
    writer.EndArray();
    writer.Key("rates");
    writeRates(writer, window);
    writer.Key("queues");
    writer.StartArray();
    for (const telemetry::EndpointQueue& queue : gauges.queues) {
      writer.StartObject();
      writer.Key("endpoint");
      common::writeString(writer, queue.endpoint);
      writer.Key("bytes");
      writeNumber(writer, queue.bytes);
      writer.Key("pending_batches");
      writeNumber(writer, queue.pending_batches);
      const auto waiting = std::find_if(backlog.begin(), backlog.end(), [&queue](const auto& one) {
        return one.url == queue.endpoint;
      });
      writer.Key("oldest_age_seconds");
      if (waiting != backlog.end() && waiting->oldest) {
        const int64_t appended = std::chrono::duration_cast<std::chrono::seconds>(
                                     waiting->oldest->appended.time_since_epoch())
                                     .count();
        writer.Int64(std::max<int64_t>(0, now_seconds - appended));
        writer.Key("oldest_estimated");
        writer.Bool(waiting->oldest->estimated);
      } else {
        writer.Null();
      }
      writer.EndObject();
    }
    writer.EndArray();
    writer.Key("training_writer");
    writer.StartObject();
    writer.Key("pending_rows");
    writeNumber(writer, gauges.training_rows_pending);
    writer.Key("buffer_rows");
    writer.Uint64(sources.training_buffer_rows);
    writer.Key("rejected_rows");
    writer.StartObject();
    for (const auto& [table, rows] : gauges.training_rows_rejected) {
      common::writeString(writer, table);
      writeNumber(writer, rows);
    }
    writer.EndObject();
    writer.EndObject();
    writer.Key("cache");
    writeCache(writer, sources.cache, gauges, now_seconds);
    writer.EndObject();
  });
}

void addOverviewRoute(http::Router& router, OverviewSources sources) {
  router.add(
      "/ui/api/overview", {http::beast_http::verb::get},
      [sources = std::move(sources)](const http::RequestContext& context) {
        const http::QueryParameters query(http::toStd(context.request.target()));
        const std::optional<int> window = parseBounded(query.get("window"), kDefaultWindowSeconds,
                                                       60, telemetry::RateRing::kMaxWindowSeconds);
        if (!window) {
          return http::errorResponse(context.request, 400,
                                     "window: must be an integer from 60 to 900 (seconds)");
        }
        const std::optional<int> step = parseBounded(query.get("step"), kDefaultStepSeconds, 1, 60);
        if (!step) {
          return http::errorResponse(context.request, 400,
                                     "step: must be an integer from 1 to 60 (seconds)");
        }
        const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        return http::jsonResponse(context.request, 200, overviewJson(sources, now, *window, *step));
      });
}

}  // namespace tp::console
