#include "training/item_codec.h"

#include <cstdint>
#include <cstring>

namespace tp::training {
namespace {

// Version 1 (before training series and lifecycle events) is still read: a journal written by
// an earlier release is resumed after an upgrade.
constexpr uint8_t kVersionWithoutLabels = 1;
constexpr uint8_t kVersion = 2;

// A fixed-width integer in the machine's (little-endian) byte order.
template <typename Integer>
void putFixed(std::string& out, Integer value) {
  char bytes[sizeof(value)];
  std::memcpy(bytes, &value, sizeof(value));
  out.append(bytes, sizeof(bytes));
}

void putString(std::string& out, std::string_view value) {
  putFixed<uint32_t>(out, static_cast<uint32_t>(value.size()));
  out.append(value);
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool u8(uint8_t& value) { return fixed(&value, sizeof(value)); }
  bool optionalI64(std::optional<int64_t>& value) {
    uint8_t present = 0;
    int64_t number = 0;
    if (!u8(present) || present > 1 || !i64(number)) return false;
    value = present == 1 ? std::optional<int64_t>(number) : std::nullopt;
    return true;
  }
  bool u32(uint32_t& value) { return fixed(&value, sizeof(value)); }
  bool i64(int64_t& value) { return fixed(&value, sizeof(value)); }
  bool string(std::string& value) {
    uint32_t size = 0;
    if (!u32(size) || size > rest_.size()) return false;
    value.assign(rest_.substr(0, size));
    rest_.remove_prefix(size);
    return true;
  }
  // A count of items taking at least `min_bytes` each cannot exceed what is left.
  bool count(uint32_t& value, size_t min_bytes) {
    return u32(value) && value <= rest_.size() / min_bytes;
  }
  bool atEnd() const { return rest_.empty(); }

 private:
  bool fixed(void* out, size_t size) {
    if (rest_.size() < size) return false;
    std::memcpy(out, rest_.data(), size);
    rest_.remove_prefix(size);
    return true;
  }

  std::string_view rest_;
};

constexpr size_t kLabelCount = 5;
constexpr size_t kMinStartBytes = 3 * sizeof(uint32_t) + sizeof(int64_t);
constexpr size_t kMinPerformanceBytes = 4 * sizeof(uint32_t) + 2 * sizeof(int64_t);
constexpr size_t kMinLifecycleBytes =
    (4 + kLabelCount) * sizeof(uint32_t) + 3 + 3 * sizeof(int64_t);

void putOptional(std::string& out, const std::optional<int64_t>& value) {
  out.push_back(value ? '\1' : '\0');
  putFixed<int64_t>(out, value.value_or(0));
}

void putLabels(std::string& out, const SeriesLabels& labels) {
  putString(out, labels.workload_name);
  putString(out, labels.pod_name);
  putString(out, labels.namespace_name);
  putString(out, labels.node);
  putString(out, labels.rank);
}

bool readLabels(Reader& reader, SeriesLabels& labels) {
  return reader.string(labels.workload_name) && reader.string(labels.pod_name) &&
         reader.string(labels.namespace_name) && reader.string(labels.node) &&
         reader.string(labels.rank);
}

bool isLifecycleKind(uint8_t kind) {
  return kind >= static_cast<uint8_t>(LifecycleKind::kEnd) &&
         kind <= static_cast<uint8_t>(LifecycleKind::kCheckpointLoadEnd);
}

}  // namespace

void encodeItems(const TrainingItems& items, std::string& out) {
  out.clear();
  out.push_back(static_cast<char>(kVersion));
  putFixed<uint32_t>(out, static_cast<uint32_t>(items.starts.size()));
  for (const PendingStart& start : items.starts) {
    putString(out, start.workload_uid);
    putString(out, start.nearest_workload_uid);
    putString(out, start.pod_uid);
    putFixed<int64_t>(out, start.time_us);
  }
  putFixed<uint32_t>(out, static_cast<uint32_t>(items.performances.size()));
  for (const PendingPerformance& row : items.performances) {
    putString(out, row.workload_uid);
    putString(out, row.nearest_workload_uid);
    putString(out, row.pod_uid);
    putString(out, row.performance_json);
    putFixed<int64_t>(out, row.iteration);
    putFixed<int64_t>(out, row.time_us);
    putLabels(out, row.labels);
  }
  putFixed<uint32_t>(out, static_cast<uint32_t>(items.lifecycles.size()));
  for (const PendingLifecycle& event : items.lifecycles) {
    putString(out, event.workload_uid);
    putString(out, event.nearest_workload_uid);
    putString(out, event.pod_uid);
    out.push_back(static_cast<char>(event.kind));
    putOptional(out, event.iteration);
    putString(out, event.path);
    putOptional(out, event.duration_ms);
    putFixed<int64_t>(out, event.time_us);
    putLabels(out, event.labels);
  }
}

bool decodeItems(std::string_view bytes, TrainingItems& items) {
  Reader reader(bytes);
  uint8_t version = 0;
  uint32_t count = 0;
  if (!reader.u8(version) || (version != kVersion && version != kVersionWithoutLabels) ||
      !reader.count(count, kMinStartBytes)) {
    return false;
  }
  const bool labelled = version == kVersion;
  TrainingItems decoded;
  decoded.starts.resize(count);
  for (PendingStart& start : decoded.starts) {
    if (!reader.string(start.workload_uid) || !reader.string(start.nearest_workload_uid) ||
        !reader.string(start.pod_uid) || !reader.i64(start.time_us)) {
      return false;
    }
  }
  if (!reader.count(count, kMinPerformanceBytes)) return false;
  decoded.performances.resize(count);
  for (PendingPerformance& row : decoded.performances) {
    if (!reader.string(row.workload_uid) || !reader.string(row.nearest_workload_uid) ||
        !reader.string(row.pod_uid) || !reader.string(row.performance_json) ||
        !reader.i64(row.iteration) || !reader.i64(row.time_us) ||
        (labelled && !readLabels(reader, row.labels))) {
      return false;
    }
  }
  if (labelled) {
    if (!reader.count(count, kMinLifecycleBytes)) return false;
    decoded.lifecycles.resize(count);
    for (PendingLifecycle& event : decoded.lifecycles) {
      uint8_t kind = 0;
      if (!reader.string(event.workload_uid) || !reader.string(event.nearest_workload_uid) ||
          !reader.string(event.pod_uid) || !reader.u8(kind) || !isLifecycleKind(kind) ||
          !reader.optionalI64(event.iteration) || !reader.string(event.path) ||
          !reader.optionalI64(event.duration_ms) || !reader.i64(event.time_us) ||
          !readLabels(reader, event.labels)) {
        return false;
      }
      event.kind = static_cast<LifecycleKind>(kind);
    }
  }
  if (!reader.atEnd()) return false;
  for (PendingStart& start : decoded.starts) items.starts.push_back(std::move(start));
  for (PendingPerformance& row : decoded.performances) items.performances.push_back(std::move(row));
  for (PendingLifecycle& event : decoded.lifecycles) items.lifecycles.push_back(std::move(event));
  return true;
}

}  // namespace tp::training
