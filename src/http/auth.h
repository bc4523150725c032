#pragma once
// Optional authentication of requests, decided from the headers before any body byte is read:
// `Authorization: Bearer <token>` against the configured tokens, or `Authorization: Basic ...`
// against the configured user:password pairs. Credentials are compared in constant time.
// Paths such as the Kubernetes probes can be exempt.

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tp::http {

class Authenticator {
 public:
  // `basic_users` entries are "user:password". With no tokens and no users, everything passes.
  Authenticator(const std::vector<std::string>& bearer_tokens,
                const std::vector<std::string>& basic_users,
                const std::vector<std::string>& exempt_paths);

  // Copies share their credentials: replace() on one is seen by all, from the next request on.
  void replace(const std::vector<std::string>& bearer_tokens,
               const std::vector<std::string>& basic_users,
               const std::vector<std::string>& exempt_paths);

  bool enabled() const { return load()->enabled(); }
  // `path` is the route path without "/v1"; `authorization` the header value (may be empty).
  bool allows(std::string_view path, std::string_view authorization) const;
  // The WWW-Authenticate value of a 401 answer.
  std::string challenge() const { return load()->challenge; }

 private:
  struct Credentials {
    std::vector<std::string> bearer;  // accepted credentials after "Bearer "
    std::vector<std::string> basic;   // accepted credentials after "Basic " (base64)
    std::vector<std::string> exempt_paths;
    std::string challenge;

    bool enabled() const { return !bearer.empty() || !basic.empty(); }
  };
  // A shared lock per request is a few nanoseconds; libstdc++'s atomic shared_ptr locks too, in
  // a way ThreadSanitizer cannot follow.
  struct Slot {
    mutable std::shared_mutex mutex;
    std::shared_ptr<const Credentials> credentials;  // guarded by mutex
  };

  static std::shared_ptr<const Credentials> build(const std::vector<std::string>& bearer_tokens,
                                                  const std::vector<std::string>& basic_users,
                                                  const std::vector<std::string>& exempt_paths);
  std::shared_ptr<const Credentials> load() const {
    std::shared_lock lock(slot_->mutex);
    return slot_->credentials;
  }

  // A reload swaps the credentials whole.
  std::shared_ptr<Slot> slot_;
};

std::string base64Encode(std::string_view data);

}  // namespace tp::http
