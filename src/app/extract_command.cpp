#include "app/extract_command.h"

#include <string>

#include "training/performance_extractor.h"

namespace tp::app {
size_t runExtract(const training::PerformanceExtractor& extractor, std::istream& input,
                  std::ostream& output) {
  training::Performance performance;
  std::string line;
  size_t number = 0;
  size_t recognised = 0;
  while (std::getline(input, line)) {
    ++number;
    const training::LineKind kind = extractor.extract(line, &performance);
    if (kind == training::LineKind::kNone) continue;
    ++recognised;
    rapidjson::StringBuffer buffer;
    common::JsonWriter writer(buffer);
    writer.StartObject();
    writer.Key("line");
    writer.Uint64(number);
    if (kind == training::LineKind::kStartTrain) {
      writer.Key("event");
      writer.String("StartTrain");
      training::writeLifecycleFields(writer, performance.lifecycle);
    } else if (kind == training::LineKind::kPerformance) {
      writer.Key("format");
      common::writeString(writer, performance.format);
      writer.Key("fields");
      training::writePerformanceJson(writer, performance);
    } else {
      writer.Key("kind");
      common::writeString(writer, training::lineKindName(kind));
      writer.Key("format");
      common::writeString(writer, performance.format);
      training::writeLifecycleFields(writer, performance.lifecycle);
    }
    writer.EndObject();
    output << buffer.GetString() << '\n';
  }
  return recognised;
}

}  // namespace tp::app
