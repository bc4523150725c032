#include "ingest/remote_write/write_request.h"

#include "common/status.h"
#include "common/strings.h"
#include "ingest/remote_write/protobuf_wire.h"

namespace tp::ingest {
namespace {

// Field numbers of prometheus/prompb (1.0) and io.prometheus.write.v2 (2.0).
namespace v1 {
constexpr uint32_t kTimeseries = 1, kMetadata = 3;
constexpr uint32_t kSeriesLabels = 1, kSeriesSamples = 2, kSeriesExemplars = 3,
                   kSeriesHistograms = 4;
constexpr uint32_t kLabelName = 1, kLabelValue = 2;
constexpr uint32_t kExemplarLabels = 1, kExemplarValue = 2, kExemplarTimestamp = 3;
constexpr uint32_t kMetadataType = 1, kMetadataFamily = 2, kMetadataHelp = 4, kMetadataUnit = 5;
}  // namespace v1
namespace v2 {
constexpr uint32_t kSymbols = 4, kTimeseries = 5;
constexpr uint32_t kSeriesLabelRefs = 1, kSeriesSamples = 2, kSeriesHistograms = 3,
                   kSeriesExemplars = 4, kSeriesMetadata = 5;
constexpr uint32_t kExemplarLabelRefs = 1;
constexpr uint32_t kMetadataType = 1, kMetadataHelpRef = 3, kMetadataUnitRef = 4;
}  // namespace v2
constexpr uint32_t kSampleValue = 1, kSampleTimestamp = 2;

// Value and timestamp share their field numbers in 1.0 and 2.0 exemplars; anything else is
// skipped.
void readExemplarScalar(WireReader& reader, uint32_t field, WireType type, Exemplar* exemplar) {
  if (field == v1::kExemplarValue && type == WireType::kFixed64) {
    reader.readDouble(&exemplar->value);
  } else if (field == v1::kExemplarTimestamp && type == WireType::kVarint) {
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

// Sample: value (double), timestamp (int64). Returns a problem or nullptr.
const char* readSample(std::string_view bytes, Sample* sample) {
  WireReader reader(bytes);
  *sample = {0, 0};
  uint32_t field;
  WireType type;
  while (reader.nextField(&field, &type)) {
    if (field == kSampleValue && type == WireType::kFixed64) {
      reader.readDouble(&sample->value);
    } else if (field == kSampleTimestamp && type == WireType::kVarint) {
      uint64_t raw = 0;
      reader.readVarint(&raw);
      sample->timestamp = static_cast<int64_t>(raw);
    } else if (field == kSampleValue || field == kSampleTimestamp) {
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

const char* readLabel(std::string_view bytes, LabelView* label) {
  WireReader reader(bytes);
  *label = {};
  uint32_t field;
  WireType type;
  while (reader.nextField(&field, &type)) {
    if ((field == v1::kLabelName || field == v1::kLabelValue) &&
        type != WireType::kLengthDelimited) {
      return "label field has the wrong wire type";
    }
    if (field == v1::kLabelName) {
      reader.readBytes(&label->name);
    } else if (field == v1::kLabelValue) {
      reader.readBytes(&label->value);
    } else {
      reader.skip(type);
    }
  }
  if (!reader.ok()) return reader.error();
  return nullptr;
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

absl::Status decodeV1(std::string_view body, SeriesSink& sink, DecodeCounts* counts) {
  thread_local DecodedSeries series;
  WireReader request(body);
  uint32_t field;
  WireType type;
  size_t index = 0;
  while (request.nextField(&field, &type)) {
    if (field != v1::kTimeseries && field != v1::kMetadata) {
      request.skip(type);
      continue;
    }
    std::string_view message;
    if (type != WireType::kLengthDelimited) {
      return field == v1::kTimeseries
                 ? seriesError(index, "wrong wire type")
                 : absl::InvalidArgumentError("cannot decode metadata: wrong wire type");
    }
    if (!request.readBytes(&message)) break;
    if (field == v1::kMetadata) {
      MetadataView metadata;
      WireReader reader(message);
      uint32_t f;
      WireType t;
      while (reader.nextField(&f, &t)) {
        if (f == v1::kMetadataType && t == WireType::kVarint) {
          uint64_t value = 0;
          reader.readVarint(&value);
          metadata.type = static_cast<uint32_t>(value);
        } else if (f == v1::kMetadataFamily && t == WireType::kLengthDelimited) {
          reader.readBytes(&metadata.family_name);
        } else if (f == v1::kMetadataHelp && t == WireType::kLengthDelimited) {
          reader.readBytes(&metadata.help);
        } else if (f == v1::kMetadataUnit && t == WireType::kLengthDelimited) {
          reader.readBytes(&metadata.unit);
        } else {
          reader.skip(t);
        }
      }
      if (!reader.ok()) return wireError(reader, "metadata");
      TP_RETURN_IF_ERROR(sink.onMetadata(metadata));
      continue;
    }
    series.clear();
    WireReader reader(message);
    uint32_t f;
    WireType t;
    while (reader.nextField(&f, &t)) {
      if (f < 1 || f > 4) {
        reader.skip(t);
        continue;
      }
      if (t != WireType::kLengthDelimited)
        return seriesError(index, "field has the wrong wire type");
      std::string_view bytes;
      if (!reader.readBytes(&bytes)) break;
      if (f == v1::kSeriesLabels) {
        LabelView label;
        const char* problem = readLabel(bytes, &label);
        if (problem == nullptr) problem = checkLabel(label, series.labels.size());
        if (problem != nullptr) return seriesError(index, problem);
        series.labels.push_back(label);
      } else if (f == v1::kSeriesSamples) {
        Sample sample;
        if (const char* problem = readSample(bytes, &sample)) return seriesError(index, problem);
        series.samples.push_back(sample);
      } else if (f == v1::kSeriesHistograms) {
        series.histograms.push_back(bytes);
      } else {  // exemplar
        Exemplar exemplar{static_cast<uint32_t>(series.exemplar_labels.size()), 0, 0, 0};
        WireReader ex(bytes);
        uint32_t ef;
        WireType et;
        while (ex.nextField(&ef, &et)) {
          if (ef == v1::kExemplarLabels && et == WireType::kLengthDelimited) {
            std::string_view label_bytes;
            ex.readBytes(&label_bytes);
            LabelView label;
            const char* problem = readLabel(label_bytes, &label);
            if (problem == nullptr) {
              problem = checkLabel(label, series.exemplar_labels.size() - exemplar.labels_begin);
            }
            if (problem != nullptr) {
              return seriesError(index, common::concat("exemplar ", problem));
            }
            series.exemplar_labels.push_back(label);
          } else {
            readExemplarScalar(ex, ef, et, &exemplar);
          }
        }
        if (!ex.ok()) return seriesError(index, common::concat("exemplar: ", ex.error()));
        exemplar.labels_end = static_cast<uint32_t>(series.exemplar_labels.size());
        series.exemplars.push_back(exemplar);
      }
    }
    if (!reader.ok()) return seriesError(index, reader.error());
    TP_RETURN_IF_ERROR(deliver(series, sink, counts));
    ++index;
  }
  if (!request.ok()) {
    return index == 0 && !body.empty() ? wireError(request, "write request")
                                       : seriesError(index, request.error());
  }
  return absl::OkStatus();
}

absl::Status decodeV2(std::string_view body, SeriesSink& sink, DecodeCounts* counts) {
  thread_local DecodedSeries series;
  thread_local SymbolTable table;
  table.symbols.clear();
  // Symbols may follow the series in the byte stream: collect them first.
  {
    WireReader request(body);
    uint32_t field;
    WireType type;
    while (request.nextField(&field, &type)) {
      if (field == v2::kSymbols) {
        if (type != WireType::kLengthDelimited) {
          return absl::InvalidArgumentError("cannot decode symbols: wrong wire type");
        }
        std::string_view symbol;
        if (!request.readBytes(&symbol)) break;
        table.symbols.push_back(symbol);
      } else {
        request.skip(type);
      }
    }
    if (!request.ok()) return wireError(request, "write request");
  }
  WireReader request(body);
  uint32_t field;
  WireType type;
  size_t index = 0;
  while (request.nextField(&field, &type)) {
    if (field != v2::kTimeseries) {
      request.skip(type);
      continue;
    }
    if (type != WireType::kLengthDelimited) return seriesError(index, "wrong wire type");
    std::string_view message;
    if (!request.readBytes(&message)) break;
    series.clear();
    uint32_t pending = SymbolTable::kNone;
    WireReader reader(message);
    uint32_t f;
    WireType t;
    while (reader.nextField(&f, &t)) {
      if (f == v2::kSeriesLabelRefs) {
        if (const char* problem = table.appendRefs(reader, t, series.labels, &pending)) {
          return seriesError(index, problem);
        }
        continue;
      }
      if (f < 2 || f > 5) {
        reader.skip(t);
        continue;
      }
      if (t != WireType::kLengthDelimited)
        return seriesError(index, "field has the wrong wire type");
      std::string_view bytes;
      if (!reader.readBytes(&bytes)) break;
      if (f == v2::kSeriesSamples) {
        Sample sample;
        if (const char* problem = readSample(bytes, &sample)) return seriesError(index, problem);
        series.samples.push_back(sample);
      } else if (f == v2::kSeriesHistograms) {
        series.histograms.push_back(bytes);
      } else if (f == v2::kSeriesExemplars) {
        Exemplar exemplar{static_cast<uint32_t>(series.exemplar_labels.size()), 0, 0, 0};
        uint32_t exemplar_pending = SymbolTable::kNone;
        WireReader ex(bytes);
        uint32_t ef;
        WireType et;
        while (ex.nextField(&ef, &et)) {
          if (ef == v2::kExemplarLabelRefs) {
            if (const char* problem =
                    table.appendRefs(ex, et, series.exemplar_labels, &exemplar_pending)) {
              return seriesError(index, common::concat("exemplar ", problem));
            }
          } else {
            readExemplarScalar(ex, ef, et, &exemplar);
          }
        }
        if (!ex.ok()) return seriesError(index, common::concat("exemplar: ", ex.error()));
        if (exemplar_pending != SymbolTable::kNone) {
          return seriesError(index, "exemplar has an odd number of label references");
        }
        exemplar.labels_end = static_cast<uint32_t>(series.exemplar_labels.size());
        series.exemplars.push_back(exemplar);
      } else {  // metadata
        WireReader meta(bytes);
        uint32_t mf;
        WireType mt;
        while (meta.nextField(&mf, &mt)) {
          uint64_t value = 0;
          if (mt != WireType::kVarint) {
            meta.skip(mt);
            continue;
          }
          meta.readVarint(&value);
          if (mf == v2::kMetadataType) {
            series.metadata.type = static_cast<uint32_t>(value);
          } else if (mf == v2::kMetadataHelpRef || mf == v2::kMetadataUnitRef) {
            if (value >= table.symbols.size()) {
              return seriesError(index, "metadata reference beyond the symbol table");
            }
            (mf == v2::kMetadataHelpRef ? series.metadata.help : series.metadata.unit) =
                table.symbols[value];
          }
        }
        if (!meta.ok()) return seriesError(index, common::concat("metadata: ", meta.error()));
        series.has_metadata = true;
      }
    }
    if (!reader.ok()) return seriesError(index, reader.error());
    if (pending != SymbolTable::kNone) {
      return seriesError(index, "odd number of label references");
    }
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
