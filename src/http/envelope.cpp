#include "http/envelope.h"

namespace tp::http {
namespace {

std::string render(int code, std::string_view message,
                   const std::function<void(common::JsonWriter&)>& write_data) {
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("meta");
  writer.StartObject();
  writer.Key("code");
  writer.Int(code);
  writer.Key("message");
  common::writeString(writer, message);
  writer.EndObject();
  writer.Key("data");
  write_data(writer);
  writer.Key("tracing");
  writer.Null();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string renderRaw(int code, std::string_view message, std::string_view data_json) {
  return render(code, message, [data_json](common::JsonWriter& writer) {
    writer.RawValue(data_json.data(), data_json.size(), rapidjson::kObjectType);
  });
}

}  // namespace

std::string envelopeOk(std::string_view data_json) {
  return renderRaw(kLensCodeOk, "OK", data_json);
}

std::string envelopeOkWriting(const std::function<void(common::JsonWriter&)>& write_data) {
  return render(kLensCodeOk, "OK", write_data);
}

std::string envelopeError(unsigned http_status, std::string_view message) {
  const int code =
      http_status >= 400 && http_status < 500 ? kLensCodeInvalidRequest : kLensCodeInternal;
  return renderRaw(code, message, "null");
}

}  // namespace tp::http
