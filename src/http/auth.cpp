#include "http/auth.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <mutex>

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
                             const std::vector<std::string>& exempt_paths)
    : slot_(std::make_shared<Slot>()) {
  slot_->credentials = build(bearer_tokens, basic_users, exempt_paths);
}

void Authenticator::replace(const std::vector<std::string>& bearer_tokens,
                            const std::vector<std::string>& basic_users,
                            const std::vector<std::string>& exempt_paths) {
  std::shared_ptr<const Credentials> credentials = build(bearer_tokens, basic_users, exempt_paths);
  std::unique_lock lock(slot_->mutex);
  slot_->credentials = std::move(credentials);
}

std::shared_ptr<const Authenticator::Credentials> Authenticator::build(
    const std::vector<std::string>& bearer_tokens, const std::vector<std::string>& basic_users,
    const std::vector<std::string>& exempt_paths) {
  auto credentials = std::make_shared<Credentials>();
  credentials->bearer = bearer_tokens;
  credentials->exempt_paths = exempt_paths;
  for (const std::string& user : basic_users) credentials->basic.push_back(base64Encode(user));
  if (!credentials->bearer.empty())
    credentials->challenge = R"(Bearer realm="telemetry-processor")";
  if (!credentials->basic.empty()) {
    if (!credentials->challenge.empty()) credentials->challenge += ", ";
    credentials->challenge += R"(Basic realm="telemetry-processor", charset="UTF-8")";
  }
  return credentials;
}

bool Authenticator::allows(std::string_view path, std::string_view authorization) const {
  const std::shared_ptr<const Credentials> credentials = load();
  if (!credentials->enabled()) return true;
  const std::vector<std::string>& exempt = credentials->exempt_paths;
  if (std::find(exempt.begin(), exempt.end(), path) != exempt.end()) return true;
  if (!credentials->bearer.empty() && schemeIs(authorization, "Bearer")) {
    return anyEquals(credentials->bearer, authorization.substr(7));
  }
  if (!credentials->basic.empty() && schemeIs(authorization, "Basic")) {
    return anyEquals(credentials->basic, authorization.substr(6));
  }
  return false;
}

}  // namespace tp::http
