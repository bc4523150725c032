// Per-stage cost of the metrics path on the load harness's bodies and cluster fixture
// (../shared/bench: `make && build/bin/gen_payload --out data`), one thread, no network:
//   decompress (snappy), decode (wire walk), decode + enrich + encode, and the whole pipeline,
//   with one lane and with the output cut into lanes (metricsWrite.concurrency > 1). Rates are
//   input samples per second (items_per_second).
//
//   TP_BENCH_DATA=/path/to/bench/data build/release/bench/remote_write_bench

#include <benchmark/benchmark.h>
#include <snappy.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>

#include "cache/cache_refresher.h"
#include "enrich/request_observers.h"
#include "enrich/series_enricher.h"
#include "ingest/remote_write/decompress.h"
#include "ingest/remote_write/write_request.h"
#include "soci/soci.h"
#include "storage/schema.h"
#include "support/temp_dir.h"

namespace tp {
namespace {

std::string dataDir() {
  const char* dir = std::getenv("TP_BENCH_DATA");
  return dir != nullptr ? dir : "../shared/bench/data";
}

std::string readFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot read " + path + " (set TP_BENCH_DATA)");
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// The fixture's cluster, loaded through the real storage and cache code into a snapshot.
std::shared_ptr<const cache::ClusterSnapshot> fixtureSnapshot() {
  static testing::TempDir dir("tp-bench-");
  config::DbConfig db;
  db.path = (dir / "lens.db").string();
  auto database = std::move(*storage::Database::create(db));
  if (!storage::ensureSchema(*database, nullptr).ok()) throw std::runtime_error("schema");
  const std::string sql = readFile(dataDir() + "/fixture/cluster_state.sql");
  const absl::Status loaded = database->run([&sql](soci::session& session) {
    size_t start = 0;
    while (start < sql.size()) {
      const size_t end = sql.find(";\n", start);
      const std::string statement = sql.substr(start, end - start);
      if (statement.find_first_not_of(" \n") != std::string::npos) session << statement;
      if (end == std::string::npos) break;
      start = end + 2;
    }
  });
  if (!loaded.ok()) throw std::runtime_error(std::string(loaded.message()));
  telemetry::Telemetry telemetry("bench");
  cache::CacheRefresher refresher(*database, std::chrono::hours(1), telemetry.cacheMetrics());
  if (!refresher.refreshNow().ok()) throw std::runtime_error("refresh");
  return refresher.snapshot();
}

struct Body {
  std::string compressed;
  std::string raw;
  size_t samples = 0;
};

class CountingSink : public ingest::SeriesSink {
 public:
  absl::Status onSeries(const ingest::DecodedSeries& series) override {
    samples += series.samples.size();
    return absl::OkStatus();
  }
  absl::Status onMetadata(const ingest::MetadataView&) override { return absl::OkStatus(); }
  size_t samples = 0;
};

const Body& body(const std::string& name) {
  static std::map<std::string, Body> bodies;
  auto [it, inserted] = bodies.try_emplace(name);
  if (inserted) {
    it->second.compressed = readFile(dataDir() + "/bodies/" + name + ".bin");
    snappy::Uncompress(it->second.compressed.data(), it->second.compressed.size(), &it->second.raw);
    CountingSink sink;
    ingest::decodeWriteRequest(it->second.raw, ingest::RemoteWriteVersion::kV1, sink, nullptr)
        .IgnoreError();
    it->second.samples = sink.samples;
  }
  return it->second;
}

const cache::ClusterSnapshot& snapshot() {
  static const auto kSnapshot = fixtureSnapshot();
  return *kSnapshot;
}

void BM_Decompress(benchmark::State& state, const char* name) {
  const Body& input = body(name);
  std::string scratch;
  for (auto _ : state) {
    auto raw =
        ingest::decompressBody(input.compressed, ingest::BodyEncoding::kSnappy, 64 << 20, scratch);
    benchmark::DoNotOptimize(raw);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * input.samples));
}

void BM_Decode(benchmark::State& state, const char* name) {
  const Body& input = body(name);
  for (auto _ : state) {
    CountingSink sink;
    ingest::decodeWriteRequest(input.raw, ingest::RemoteWriteVersion::kV1, sink, nullptr)
        .IgnoreError();
    benchmark::DoNotOptimize(sink.samples);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * input.samples));
}

void BM_DecodeEnrichEncode(benchmark::State& state, const char* name) {
  const Body& input = body(name);
  const cache::ClusterSnapshot& cluster = snapshot();
  prompb::OutputBuffer out;
  for (auto _ : state) {
    out.clear();
    enrich::SeriesEnricher enricher(cluster, out);
    ingest::decodeWriteRequest(input.raw, ingest::RemoteWriteVersion::kV1, enricher, nullptr)
        .IgnoreError();
    benchmark::DoNotOptimize(out.view().data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * input.samples));
}

void BM_Pipeline(benchmark::State& state, const char* name) {
  const Body& input = body(name);
  const cache::ClusterSnapshot& cluster = snapshot();
  std::string scratch, compressed;
  prompb::OutputBuffer out;
  for (auto _ : state) {
    auto raw =
        ingest::decompressBody(input.compressed, ingest::BodyEncoding::kSnappy, 64 << 20, scratch);
    out.clear();
    enrich::SeriesEnricher enricher(cluster, out);
    ingest::decodeWriteRequest(*raw, ingest::RemoteWriteVersion::kV1, enricher, nullptr)
        .IgnoreError();
    snappy::Compress(out.view().data(), out.size(), &compressed);
    benchmark::DoNotOptimize(compressed.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * input.samples));
}

// metricsWrite.concurrency lanes: decompress, decode + enrich + encode into the lanes, compress
// each lane's part.
void BM_PipelineLanes(benchmark::State& state, const char* name) {
  const Body& input = body(name);
  const cache::ClusterSnapshot& cluster = snapshot();
  const size_t lanes = static_cast<size_t>(state.range(0));
  std::string scratch;
  std::vector<std::string> compressed(lanes);
  std::vector<prompb::OutputBuffer> out(lanes);
  for (auto _ : state) {
    auto raw =
        ingest::decompressBody(input.compressed, ingest::BodyEncoding::kSnappy, 64 << 20, scratch);
    for (prompb::OutputBuffer& lane : out) lane.clear();
    enrich::SeriesEnricher enricher(cluster, out);
    ingest::decodeWriteRequest(*raw, ingest::RemoteWriteVersion::kV1, enricher, nullptr)
        .IgnoreError();
    for (size_t i = 0; i < lanes; ++i) {
      snappy::Compress(out[i].view().data(), out[i].size(), &compressed[i]);
    }
    benchmark::DoNotOptimize(compressed.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * input.samples));
}

// Decode + enrich + encode with what the remote-write handler adds per request: the tracer's
// check alone (disabled: one atomic load), then with the active-names batch observing every
// series, then with the tracer enabled on a selector matching about 1 % of the series (the label
// value of the body closest to 1 % of its series).
std::pair<std::string, std::string> onePercentSelector(const std::string& raw) {
  class LabelCounter : public ingest::SeriesSink {
   public:
    absl::Status onSeries(const ingest::DecodedSeries& series) override {
      ++series_count;
      for (const ingest::LabelView& label : series.labels) {
        if (label.name != "__name__") ++counts[{std::string(label.name), std::string(label.value)}];
      }
      return absl::OkStatus();
    }
    absl::Status onMetadata(const ingest::MetadataView&) override { return absl::OkStatus(); }
    std::map<std::pair<std::string, std::string>, size_t> counts;
    size_t series_count = 0;
  } counter;
  ingest::decodeWriteRequest(raw, ingest::RemoteWriteVersion::kV1, counter, nullptr).IgnoreError();
  const double target = static_cast<double>(counter.series_count) / 100;
  std::pair<std::string, std::string> best;
  double best_distance = 1e300;
  for (const auto& [label, count] : counter.counts) {
    const double distance = std::abs(static_cast<double>(count) - target);
    if (distance < best_distance) {
      best_distance = distance;
      best = label;
    }
  }
  return best;
}

enum class Observed { kTracerCheck, kActiveNames, kTraced };

void BM_DecodeEnrichObserved(benchmark::State& state, const char* name, Observed observed) {
  const Body& input = body(name);
  const cache::ClusterSnapshot& cluster = snapshot();
  enrich::ActiveMetrics active;
  enrich::SeriesTracer tracer;
  const bool tracing = observed == Observed::kTraced;
  if (tracing) {
    const auto selector = onePercentSelector(input.raw);
    if (!tracer.configure({.enabled = true, .label_selectors = {selector}}).ok()) {
      state.SkipWithError("tracer configuration");
      return;
    }
  }
  prompb::OutputBuffer out;
  for (auto _ : state) {
    out.clear();
    enrich::SeriesEnricher enricher(cluster, out);
    enrich::ActiveMetrics::Batch batch(active);
    std::optional<enrich::SeriesTracer::Session> trace;
    if (tracer.enabled()) trace.emplace(tracer.session());
    enrich::RequestObservers observers(batch, trace ? &*trace : nullptr);
    if (observed != Observed::kTracerCheck) enricher.setObserver(&observers);
    ingest::decodeWriteRequest(input.raw, ingest::RemoteWriteVersion::kV1, enricher, nullptr)
        .IgnoreError();
    batch.commit();
    if (trace) trace->commit();
    benchmark::DoNotOptimize(out.view().data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * input.samples));
  if (tracing) {
    state.counters["traced_per_request"] =
        benchmark::Counter(static_cast<double>(tracer.stats().total_matched) /
                           static_cast<double>(state.iterations()));
  }
}

BENCHMARK_CAPTURE(BM_Decompress, b2k, "b2k");
BENCHMARK_CAPTURE(BM_Decode, b2k, "b2k");
BENCHMARK_CAPTURE(BM_DecodeEnrichEncode, b2k, "b2k");
BENCHMARK_CAPTURE(BM_DecodeEnrichObserved, b2k_tracer_off, "b2k", Observed::kTracerCheck);
BENCHMARK_CAPTURE(BM_DecodeEnrichObserved, b2k_tracer_off_active, "b2k", Observed::kActiveNames);
BENCHMARK_CAPTURE(BM_DecodeEnrichObserved, b2k_tracer_1pct_active, "b2k", Observed::kTraced);
BENCHMARK_CAPTURE(BM_PipelineLanes, b2k, "b2k")->Arg(1)->Arg(4);
BENCHMARK_CAPTURE(BM_Pipeline, b500, "b500");
BENCHMARK_CAPTURE(BM_Pipeline, b2k, "b2k");
BENCHMARK_CAPTURE(BM_Pipeline, b10k, "b10k");
BENCHMARK_CAPTURE(BM_Pipeline, b100k, "b100k");

}  // namespace
}  // namespace tp

BENCHMARK_MAIN();
