#include "ingest/remote_write/write_request.h"

#include "common/status.h"
#include "common/strings.h"
#include "prompb/fields.h"
#include "prompb/wire.h"

namespace tp::ingest {
namespace {

namespace v1 = prompb::v1;
namespace v2 = prompb::v2;
using prompb::WireReader;
using prompb::WireType;

// Value and timestamp share their field numbers in 1.0 and 2.0 exemplars; anything else is
// skipped.
static_assert(v1::exemplar::kValue == v2::exemplar::kValue &&
              v1::exemplar::kTimestamp == v2::exemplar::kTimestamp);
void readExemplarScalar(WireReader& reader, uint32_t field, WireType type, Exemplar* exemplar) {
  if (field == v1::exemplar::kValue && type == WireType::kFixed64) {
    reader.readDouble(&exemplar->value);
  } else if (field == v1::exemplar::kTimestamp && type == WireType::kVarint) {
    uint64_t raw = 0;
    reader.readVarint(&raw);
    exemplar->timestamp = static_cast<int64_t>(raw);
  } else {
    reader.skip(type);
  }
}

absl::Status deliver(const DecodedSeries& series, SeriesSink& sink, DecodeCounts* counts) {
  if (counts != nullptr) {
    ++counts->series;
    counts->samples += series.samples.size();
    counts->histograms += series.histograms.size();
    counts->exemplars += series.exemplars.size();
  }
  return sink.onSeries(series);
}

absl::Status seriesError(size_t index, std::string_view problem) {
  return absl::InvalidArgumentError(
      common::concat("cannot decode timeseries ", index, ": ", problem));
}

absl::Status wireError(const WireReader& reader, std::string_view where) {
  return absl::InvalidArgumentError(common::concat("cannot decode ", where, ": ", reader.error()));
}

// Sample (the same fields in 1.0 and 2.0): value (double), timestamp (int64). Returns a problem or
// nullptr.
static_assert(v1::sample::kValue == v2::sample::kValue &&
              v1::sample::kTimestamp == v2::sample::kTimestamp);
const char* readSample(std::string_view bytes, Sample* sample) {
  WireReader reader(bytes);
  *sample = {0, 0};
  uint32_t field;
  WireType type;
  while (reader.nextField(&field, &type)) {
    if (field == v1::sample::kValue && type == WireType::kFixed64) {
      reader.readDouble(&sample->value);
    } else if (field == v1::sample::kTimestamp && type == WireType::kVarint) {
      uint64_t raw = 0;
      reader.readVarint(&raw);
      sample->timestamp = static_cast<int64_t>(raw);
    } else if (field == v1::sample::kValue || field == v1::sample::kTimestamp) {
      return "sample field has the wrong wire type";
    } else {
      reader.skip(type);
    }
  }
  return reader.ok() ? nullptr : reader.error();
}

const char* checkLabel(const LabelView& label, size_t labels_so_far) {
  if (label.name.empty()) return "label name empty";
  if (label.name.size() > kMaxLabelNameBytes) return "label name longer than 1024 bytes";
  if (label.value.size() > kMaxLabelValueBytes) return "label value longer than 65536 bytes";
  if (labels_so_far >= kMaxLabelsPerSeries) return "more than 256 labels";
  return nullptr;
}

// 1.0 Label: name, value. Returns a problem or nullptr.
const char* readLabel(std::string_view bytes, LabelView* label) {
  // Nearly every sender writes the name, then the value, each shorter than 128 bytes: such a
  // label is read straight from its bytes (it runs for every label), anything else below.
  constexpr auto kLengthDelimited = static_cast<uint32_t>(WireType::kLengthDelimited);
  constexpr char kNameKey = static_cast<char>(v1::label::kName << 3 | kLengthDelimited);
  constexpr char kValueKey = static_cast<char>(v1::label::kValue << 3 | kLengthDelimited);
  if (bytes.size() >= 4 && bytes[0] == kNameKey) {
    const auto name_size = static_cast<uint8_t>(bytes[1]);
    const size_t value_at = 2 + size_t{name_size};
    if (name_size < 0x80 && value_at + 2 <= bytes.size() && bytes[value_at] == kValueKey) {
      const auto value_size = static_cast<uint8_t>(bytes[value_at + 1]);
      if (value_size < 0x80 && value_at + 2 + value_size == bytes.size()) {
        *label = {bytes.substr(2, name_size), bytes.substr(value_at + 2, value_size)};
        return nullptr;
      }
    }
  }
  WireReader reader(bytes);
  *label = {};
  uint32_t field;
  WireType type;
  while (reader.nextField(&field, &type)) {
    const bool known = field == v1::label::kName || field == v1::label::kValue;
    if (known && type != WireType::kLengthDelimited) return "label field has the wrong wire type";
    if (field == v1::label::kName) {
      reader.readBytes(&label->name);
    } else if (field == v1::label::kValue) {
      reader.readBytes(&label->value);
    } else {
      reader.skip(type);
    }
  }
  if (!reader.ok()) return reader.error();
  return nullptr;
}

// 1.0 MetricMetadata (a top-level field of the request).
absl::Status readV1Metadata(std::string_view bytes, MetadataView* metadata) {
  WireReader reader(bytes);
  uint32_t field;
  WireType type;
  while (reader.nextField(&field, &type)) {
    if (field == v1::metric_metadata::kType && type == WireType::kVarint) {
      uint64_t value = 0;
      reader.readVarint(&value);
      metadata->type = static_cast<uint32_t>(value);
    } else if (field == v1::metric_metadata::kMetricFamilyName &&
               type == WireType::kLengthDelimited) {
      reader.readBytes(&metadata->family_name);
    } else if (field == v1::metric_metadata::kHelp && type == WireType::kLengthDelimited) {
      reader.readBytes(&metadata->help);
    } else if (field == v1::metric_metadata::kUnit && type == WireType::kLengthDelimited) {
      reader.readBytes(&metadata->unit);
    } else {
      reader.skip(type);
    }
  }
  return reader.ok() ? absl::OkStatus() : wireError(reader, "metadata");
}

// 1.0 Exemplar of series `index`: its labels go to series.exemplar_labels.
absl::Status readV1Exemplar(std::string_view bytes, size_t index, DecodedSeries& series) {
  Exemplar exemplar{static_cast<uint32_t>(series.exemplar_labels.size()), 0, 0, 0};
  WireReader reader(bytes);
  uint32_t field;
  WireType type;
  while (reader.nextField(&field, &type)) {
    if (field == v1::exemplar::kLabels && type == WireType::kLengthDelimited) {
      std::string_view label_bytes;
      reader.readBytes(&label_bytes);
      LabelView label;
      const char* problem = readLabel(label_bytes, &label);
      if (problem == nullptr) {
        problem = checkLabel(label, series.exemplar_labels.size() - exemplar.labels_begin);
      }
      if (problem != nullptr) return seriesError(index, common::concat("exemplar ", problem));
      series.exemplar_labels.push_back(label);
    } else {
      readExemplarScalar(reader, field, type, &exemplar);
    }
  }
  if (!reader.ok()) return seriesError(index, common::concat("exemplar: ", reader.error()));
  exemplar.labels_end = static_cast<uint32_t>(series.exemplar_labels.size());
  series.exemplars.push_back(exemplar);
  return absl::OkStatus();
}

// A Sample (the same fields in 1.0 and 2.0) of series `index`, appended to it.
absl::Status appendSample(std::string_view bytes, size_t index, DecodedSeries& series) {
  Sample sample{};
  if (const char* problem = readSample(bytes, &sample)) return seriesError(index, problem);
  series.samples.push_back(sample);
  return absl::OkStatus();
}

// 1.0 TimeSeries `index` into `series`.
absl::Status readV1Series(std::string_view message, size_t index, DecodedSeries& series) {
  series.clear();
  WireReader reader(message);
  uint32_t field;
  WireType type;
  while (reader.nextField(&field, &type)) {
    if (field != v1::time_series::kLabels && field != v1::time_series::kSamples &&
        field != v1::time_series::kExemplars && field != v1::time_series::kHistograms) {
      reader.skip(type);
      continue;
    }
    if (type != WireType::kLengthDelimited) {
      return seriesError(index, "field has the wrong wire type");
    }
    std::string_view bytes;
    if (!reader.readBytes(&bytes)) break;
    if (field == v1::time_series::kLabels) {
      LabelView label;
      const char* problem = readLabel(bytes, &label);
      if (problem == nullptr) problem = checkLabel(label, series.labels.size());
      if (problem != nullptr) return seriesError(index, problem);
      // emplace_back has this one call in the file, which GCC inlines; push_back, used for every
      // list of labels here, it keeps out of line: a call per label, a tenth of the decode's time.
      series.labels.emplace_back(label);
    } else if (field == v1::time_series::kSamples) {
      TP_RETURN_IF_ERROR(appendSample(bytes, index, series));
    } else if (field == v1::time_series::kHistograms) {
      series.histograms.push_back(bytes);
    } else {
      TP_RETURN_IF_ERROR(readV1Exemplar(bytes, index, series));
    }
  }
  return reader.ok() ? absl::OkStatus() : seriesError(index, reader.error());
}

// Reads packed (or repeated unpacked) uint32 symbol references into pairs of labels.
class SymbolTable {
 public:
  std::vector<std::string_view> symbols;

  const char* appendRefs(WireReader& reader, WireType type, std::vector<LabelView>& out,
                         uint32_t* pending) {
    auto take = [&](uint64_t ref) -> const char* {
      if (ref >= symbols.size()) return "label reference beyond the symbol table";
      if (*pending == kNone) {
        *pending = static_cast<uint32_t>(ref);
      } else {
        const LabelView label{symbols[*pending], symbols[ref]};
        if (const char* problem = checkLabel(label, out.size())) return problem;
        out.push_back(label);
        *pending = kNone;
      }
      return nullptr;
    };
    if (type == WireType::kVarint) {
      uint64_t ref = 0;
      if (!reader.readVarint(&ref)) return reader.error();
      return take(ref);
    }
    if (type != WireType::kLengthDelimited) return "label references have the wrong wire type";
    std::string_view packed;
    if (!reader.readBytes(&packed)) return reader.error();
    WireReader refs(packed);
    while (!refs.done()) {
      uint64_t ref = 0;
      if (!refs.readVarint(&ref)) return refs.error();
      if (const char* problem = take(ref)) return problem;
    }
    return nullptr;
  }

  static constexpr uint32_t kNone = UINT32_MAX;
};

// 2.0 Exemplar of series `index`: its labels go to series.exemplar_labels.
absl::Status readV2Exemplar(std::string_view bytes, size_t index, SymbolTable& table,
                            DecodedSeries& series) {
  Exemplar exemplar{static_cast<uint32_t>(series.exemplar_labels.size()), 0, 0, 0};
  uint32_t pending = SymbolTable::kNone;
  WireReader reader(bytes);
  uint32_t field;
  WireType type;
  while (reader.nextField(&field, &type)) {
    if (field == v2::exemplar::kLabelsRefs) {
      if (const char* problem = table.appendRefs(reader, type, series.exemplar_labels, &pending)) {
        return seriesError(index, common::concat("exemplar ", problem));
      }
    } else {
      readExemplarScalar(reader, field, type, &exemplar);
    }
  }
  if (!reader.ok()) return seriesError(index, common::concat("exemplar: ", reader.error()));
  if (pending != SymbolTable::kNone) {
    return seriesError(index, "exemplar has an odd number of label references");
  }
  exemplar.labels_end = static_cast<uint32_t>(series.exemplar_labels.size());
  series.exemplars.push_back(exemplar);
  return absl::OkStatus();
}

// 2.0 Metadata of series `index`: help and unit are symbol references.
absl::Status readV2Metadata(std::string_view bytes, size_t index, const SymbolTable& table,
                            MetadataView* metadata) {
  WireReader reader(bytes);
  uint32_t field;
  WireType type;
  while (reader.nextField(&field, &type)) {
    if (type != WireType::kVarint) {
      reader.skip(type);
      continue;
    }
    uint64_t value = 0;
    reader.readVarint(&value);
    if (field == v2::metadata::kType) {
      metadata->type = static_cast<uint32_t>(value);
    } else if (field == v2::metadata::kHelpRef || field == v2::metadata::kUnitRef) {
      if (value >= table.symbols.size()) {
        return seriesError(index, "metadata reference beyond the symbol table");
      }
      (field == v2::metadata::kHelpRef ? metadata->help : metadata->unit) = table.symbols[value];
    }
  }
  return reader.ok() ? absl::OkStatus()
                     : seriesError(index, common::concat("metadata: ", reader.error()));
}

// 2.0 TimeSeries `index` into `series`.
absl::Status readV2Series(std::string_view message, size_t index, SymbolTable& table,
                          DecodedSeries& series) {
  series.clear();
  uint32_t pending = SymbolTable::kNone;
  WireReader reader(message);
  uint32_t field;
  WireType type;
  while (reader.nextField(&field, &type)) {
    if (field == v2::time_series::kLabelsRefs) {
      if (const char* problem = table.appendRefs(reader, type, series.labels, &pending)) {
        return seriesError(index, problem);
      }
      continue;
    }
    if (field != v2::time_series::kSamples && field != v2::time_series::kHistograms &&
        field != v2::time_series::kExemplars && field != v2::time_series::kMetadata) {
      reader.skip(type);
      continue;
    }
    if (type != WireType::kLengthDelimited) {
      return seriesError(index, "field has the wrong wire type");
    }
    std::string_view bytes;
    if (!reader.readBytes(&bytes)) break;
    if (field == v2::time_series::kSamples) {
      TP_RETURN_IF_ERROR(appendSample(bytes, index, series));
    } else if (field == v2::time_series::kHistograms) {
      series.histograms.push_back(bytes);
    } else if (field == v2::time_series::kExemplars) {
      TP_RETURN_IF_ERROR(readV2Exemplar(bytes, index, table, series));
    } else {
      TP_RETURN_IF_ERROR(readV2Metadata(bytes, index, table, &series.metadata));
      series.has_metadata = true;
    }
  }
  if (!reader.ok()) return seriesError(index, reader.error());
  if (pending != SymbolTable::kNone) return seriesError(index, "odd number of label references");
  return absl::OkStatus();
}

absl::Status decodeV1(std::string_view body, SeriesSink& sink, DecodeCounts* counts) {
  thread_local DecodedSeries series;
  WireReader request(body);
  uint32_t field;
  WireType type;
  size_t index = 0;
  while (request.nextField(&field, &type)) {
    if (field != v1::write_request::kTimeseries && field != v1::write_request::kMetadata) {
      request.skip(type);
      continue;
    }
    if (type != WireType::kLengthDelimited) {
      return field == v1::write_request::kTimeseries
                 ? seriesError(index, "wrong wire type")
                 : absl::InvalidArgumentError("cannot decode metadata: wrong wire type");
    }
    std::string_view message;
    if (!request.readBytes(&message)) break;
    if (field == v1::write_request::kMetadata) {
      MetadataView metadata;
      TP_RETURN_IF_ERROR(readV1Metadata(message, &metadata));
      TP_RETURN_IF_ERROR(sink.onMetadata(metadata));
      continue;
    }
    TP_RETURN_IF_ERROR(readV1Series(message, index, series));
    TP_RETURN_IF_ERROR(deliver(series, sink, counts));
    ++index;
  }
  if (!request.ok()) {
    return index == 0 && !body.empty() ? wireError(request, "write request")
                                       : seriesError(index, request.error());
  }
  return absl::OkStatus();
}

// Symbols may follow the series in the byte stream: they are collected first.
absl::Status readV2Symbols(std::string_view body, SymbolTable& table) {
  table.symbols.clear();
  WireReader request(body);
  uint32_t field;
  WireType type;
  while (request.nextField(&field, &type)) {
    if (field != v2::request::kSymbols) {
      request.skip(type);
      continue;
    }
    if (type != WireType::kLengthDelimited) {
      return absl::InvalidArgumentError("cannot decode symbols: wrong wire type");
    }
    std::string_view symbol;
    if (!request.readBytes(&symbol)) break;
    table.symbols.push_back(symbol);
  }
  return request.ok() ? absl::OkStatus() : wireError(request, "write request");
}

absl::Status decodeV2(std::string_view body, SeriesSink& sink, DecodeCounts* counts) {
  thread_local DecodedSeries series;
  thread_local SymbolTable table;
  TP_RETURN_IF_ERROR(readV2Symbols(body, table));
  WireReader request(body);
  uint32_t field;
  WireType type;
  size_t index = 0;
  while (request.nextField(&field, &type)) {
    if (field != v2::request::kTimeseries) {
      request.skip(type);
      continue;
    }
    if (type != WireType::kLengthDelimited) return seriesError(index, "wrong wire type");
    std::string_view message;
    if (!request.readBytes(&message)) break;
    TP_RETURN_IF_ERROR(readV2Series(message, index, table, series));
    TP_RETURN_IF_ERROR(deliver(series, sink, counts));
    ++index;
  }
  if (!request.ok()) return seriesError(index, request.error());
  return absl::OkStatus();
}

}  // namespace

absl::Status decodeWriteRequest(std::string_view body, RemoteWriteVersion version, SeriesSink& sink,
                                DecodeCounts* counts) {
  return version == RemoteWriteVersion::kV1 ? decodeV1(body, sink, counts)
                                            : decodeV2(body, sink, counts);
}

}  // namespace tp::ingest
