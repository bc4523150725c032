#pragma once
// The listener's TLS context: TLS 1.2 and later, the certificate chain and key from PEM files.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "boost/asio/ssl/context.hpp"

namespace tp::http {

// InvalidArgument naming http.tlsCertFile or http.tlsKeyFile when a file cannot be used.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> loadTlsContext(
    const std::string& cert_file, const std::string& key_file);

}  // namespace tp::http
