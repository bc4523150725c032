#include "ingest/remote_write/content_type.h"

#include "common/strings.h"

namespace tp::ingest {

absl::StatusOr<RemoteWriteVersion> parseRemoteWriteContentType(std::string_view header) {
  const std::string_view media = common::trim(header.substr(0, header.find(';')));
  if (media.empty()) return RemoteWriteVersion::kV1;
  if (media != "application/x-protobuf") {
    return absl::UnimplementedError(
        common::concat("unsupported Content-Type '", header, "' (use application/x-protobuf)"));
  }
  const size_t proto = header.find("proto=");
  if (proto == std::string_view::npos) return RemoteWriteVersion::kV1;
  const std::string_view message =
      common::trim(header.substr(proto + 6, header.find(';', proto) - proto - 6));
  if (message == "prometheus.WriteRequest") return RemoteWriteVersion::kV1;
  if (message == "io.prometheus.write.v2.Request") return RemoteWriteVersion::kV2;
  return absl::UnimplementedError(common::concat("unsupported remote-write message '", message,
                                                 "' (use prometheus.WriteRequest or "
                                                 "io.prometheus.write.v2.Request)"));
}

absl::StatusOr<BodyEncoding> parseContentEncoding(std::string_view header) {
  const std::string_view value = common::trim(header);
  if (value.empty() || value == "identity") return BodyEncoding::kIdentity;
  if (value == "snappy") return BodyEncoding::kSnappy;
  if (value == "zstd") return BodyEncoding::kZstd;
  return absl::UnimplementedError(
      common::concat("unsupported Content-Encoding '", value, "' (use snappy, zstd or none)"));
}

}  // namespace tp::ingest
