#include "http/auth.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace tp::http {
namespace {

// Compares without an early exit, so the time taken does not reveal how much matched.
bool constantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return difference == 0;
}

bool anyEquals(const std::vector<std::string>& accepted, std::string_view credentials) {
  bool found = false;
  for (const std::string& candidate : accepted) found |= constantTimeEquals(credentials, candidate);
  return found;
}

bool schemeIs(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
  return std::equal(scheme.begin(), scheme.end(), header.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

}  // namespace

std::string base64Encode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  for (size_t i = 0; i < data.size(); i += 3) {
    const size_t left = data.size() - i;
    uint32_t chunk = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (left > 1) chunk |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    if (left > 2) chunk |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 2]));
    out.push_back(kAlphabet[(chunk >> 18) & 63]);
    out.push_back(kAlphabet[(chunk >> 12) & 63]);
    out.push_back(left > 1 ? kAlphabet[(chunk >> 6) & 63] : '=');
    out.push_back(left > 2 ? kAlphabet[chunk & 63] : '=');
  }
  return out;
}

Authenticator::Authenticator(const std::vector<std::string>& bearer_tokens,
                             const std::vector<std::string>& basic_users,
                             std::vector<std::string> exempt_paths)
    : bearer_(bearer_tokens), exempt_paths_(std::move(exempt_paths)) {
  for (const std::string& user : basic_users) basic_.push_back(base64Encode(user));
  if (!bearer_.empty()) challenge_ = R"(Bearer realm="telemetry-processor")";
  if (!basic_.empty()) {
    if (!challenge_.empty()) challenge_ += ", ";
    challenge_ += R"(Basic realm="telemetry-processor", charset="UTF-8")";
  }
}

bool Authenticator::allows(std::string_view path, std::string_view authorization) const {
  if (!enabled()) return true;
  if (std::find(exempt_paths_.begin(), exempt_paths_.end(), path) != exempt_paths_.end()) {
    return true;
  }
  if (!bearer_.empty() && schemeIs(authorization, "Bearer")) {
    return anyEquals(bearer_, authorization.substr(7));
  }
  if (!basic_.empty() && schemeIs(authorization, "Basic")) {
    return anyEquals(basic_, authorization.substr(6));
  }
  return false;
}

}  // namespace tp::http
