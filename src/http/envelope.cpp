#include "http/envelope.h"

#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tp::http {
namespace {

std::string render(int code, std::string_view message, std::string_view data_json) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("meta");
  writer.StartObject();
  writer.Key("code");
  writer.Int(code);
  writer.Key("message");
  writer.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  writer.EndObject();
  writer.Key("data");
  writer.RawValue(data_json.data(), data_json.size(), rapidjson::kObjectType);
  writer.Key("tracing");
  writer.Null();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::string envelopeOk(std::string_view data_json) { return render(kLensCodeOk, "OK", data_json); }

std::string envelopeError(unsigned http_status, std::string_view message) {
  const int code =
      http_status >= 400 && http_status < 500 ? kLensCodeInvalidRequest : kLensCodeInternal;
  return render(code, message, "null");
}

}  // namespace tp::http
