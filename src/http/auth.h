#pragma once
// Optional authentication of requests, decided from the headers before any body byte is read:
// `Authorization: Bearer <token>` against the configured tokens, or `Authorization: Basic ...`
// against the configured user:password pairs. Credentials are compared in constant time.
// Paths such as the Kubernetes probes can be exempt.

#include <string>
#include <string_view>
#include <vector>

namespace tp::http {

class Authenticator {
 public:
  // `basic_users` entries are "user:password". With no tokens and no users, everything passes.
  Authenticator(const std::vector<std::string>& bearer_tokens,
                const std::vector<std::string>& basic_users, std::vector<std::string> exempt_paths);

  bool enabled() const { return !bearer_.empty() || !basic_.empty(); }
  // `path` is the route path without "/v1"; `authorization` the header value (may be empty).
  bool allows(std::string_view path, std::string_view authorization) const;
  // The WWW-Authenticate value of a 401 answer.
  const std::string& challenge() const { return challenge_; }

 private:
  std::vector<std::string> bearer_;  // accepted credentials after "Bearer "
  std::vector<std::string> basic_;   // accepted credentials after "Basic " (base64)
  std::vector<std::string> exempt_paths_;
  std::string challenge_;
};

std::string base64Encode(std::string_view data);

}  // namespace tp::http
