#pragma once
// Shared by the remote-write fuzz targets: decode, enrich against a fixed small cluster, and
// check that the output re-decodes (the encoder must never produce malformed protobuf), also when
// cut into lanes.

#include <array>
#include <string>
#include <string_view>

#include "cache/cluster_snapshot.h"
#include "enrich/series_enricher.h"
#include "ingest/remote_write/write_request.h"

namespace tp::fuzz {

inline const cache::ClusterSnapshot& fuzzCluster() {
  static const std::shared_ptr<const cache::ClusterSnapshot> kSnapshot = [] {
    cache::SnapshotBuilder builder;
    builder.addDevice({"n", "p", "u", "gpu", "card0", 0});
    builder.addDevice({"n", "p", "u", "rdma", "rdma0", 0});
    builder.addWorkloadPod({"p", "u", "w", "wu", ""});
    builder.addWorkloadPod({"p", "u", "parent", "pu", ""});
    return builder.build();
  }();
  return *kSnapshot;
}

class NullSink : public ingest::SeriesSink {
 public:
  absl::Status onSeries(const ingest::DecodedSeries&) override {
    ++series;
    return absl::OkStatus();
  }
  absl::Status onMetadata(const ingest::MetadataView&) override { return absl::OkStatus(); }
  size_t series = 0;
};

inline void decodeAndEnrich(std::string_view body, ingest::RemoteWriteVersion version) {
  prompb::OutputBuffer out;
  enrich::SeriesEnricher enricher(fuzzCluster(), out);
  if (!ingest::decodeWriteRequest(body, version, enricher, nullptr).ok()) return;
  NullSink check;
  if (!ingest::decodeWriteRequest(out.view(), ingest::RemoteWriteVersion::kV1, check, nullptr)
           .ok()) {
    __builtin_trap();
  }
  if (check.series != enricher.counts().series_out) __builtin_trap();

  // Cut into lanes as it is written: every lane re-decodes, and the lanes hold every byte,
  // series and sample of the output once.
  std::array<prompb::OutputBuffer, 3> lanes;
  enrich::SeriesEnricher cutting(fuzzCluster(), lanes);
  if (!ingest::decodeWriteRequest(body, version, cutting, nullptr).ok()) __builtin_trap();
  size_t bytes = 0, series = 0, samples = 0;
  for (size_t lane = 0; lane < lanes.size(); ++lane) {
    NullSink lane_check;
    if (!ingest::decodeWriteRequest(lanes[lane].view(), ingest::RemoteWriteVersion::kV1, lane_check,
                                    nullptr)
             .ok()) {
      __builtin_trap();
    }
    bytes += lanes[lane].size();
    series += lane_check.series;
    samples += cutting.laneSamples()[lane];
  }
  if (bytes != out.size() || series != check.series || samples != enricher.counts().samples_out) {
    __builtin_trap();
  }
}

}  // namespace tp::fuzz
