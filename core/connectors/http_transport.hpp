// The "http" connector type: each message as a JSON POST over HTTP/1.1 (Beast) to the one
// endpoint of the instance's settings (never from API input), over TLS (OpenSSL) with certificate
// and host name verification unless switched off, optional CA file and client certificate,
// bearer or basic credentials from secret files, the idempotency key in an `Idempotency-Key`
// header, and one deadline (the instance's timeout) over connect, send and answer.
//
// Body: {"id", "idempotency_key", "type", "case_id", "subject_id", "created_at", "attempt",
// "payload"}. Answer: 2xx delivered; 408, 429, 5xx and network errors retry (Retry-After in
// seconds honoured); any other status (3xx: redirects are not followed; 4xx) fails for good.
#pragma once

#include <string>

#include "kim/sdk/connector.hpp"

namespace kim::connectors {

sdk::ConnectorType http_transport_type();

// The request body for `message` (shared by the transport and its documentation).
nlohmann::json http_message_body(const sdk::OutboundMessage& message);

}  // namespace kim::connectors
