#pragma once
// The Lens response envelope: {"meta":{"code":C,"message":M},"data":D,"tracing":null}.
// Success carries code 2000; errors carry 4001 (client's fault) or 5000 (ours) and are always
// paired with the matching HTTP status, unlike the reference which answered 200 on errors.

#include <functional>
#include <string>
#include <string_view>

#include "common/json_writer.h"

namespace tp::http {

inline constexpr int kLensCodeOk = 2000;
inline constexpr int kLensCodeInvalidRequest = 4001;
inline constexpr int kLensCodeInternal = 5000;

// `data_json` must already be valid JSON (object, array, string, number or null).
std::string envelopeOk(std::string_view data_json);

// The same, with the data written straight into the envelope's buffer (large documents).
std::string envelopeOkWriting(const std::function<void(common::JsonWriter&)>& write_data);

// Lens code chosen from the HTTP status: 4xx -> 4001, anything else -> 5000.
std::string envelopeError(unsigned http_status, std::string_view message);

}  // namespace tp::http
