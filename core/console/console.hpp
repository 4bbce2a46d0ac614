// The web console: static files compiled into kim (core/console/assets/, embedded by
// embed_assets.cmake) and served at "/" on the API's listener, without a token (they hold no
// data; every datum comes from /api/v1 with the session cookie). Strict headers on each: a
// Content-Security-Policy without inline script, no framing, nosniff, no referrer, and an ETag
// for revalidation.
#pragma once

#include <string_view>
#include <vector>

#include "http/api_docs.hpp"
#include "http/router.hpp"

namespace kim::console {

struct Asset {
  std::string_view name;          // file name, e.g. "app.js"
  std::string_view content_type;  // from the extension
  std::string_view etag;          // quoted, from the SHA-256 of the bytes
  std::string_view body;
};

// Every embedded file (generated at configure time).
const std::vector<Asset>& assets();

// The policy every console response carries.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

// GET / (index.html) and GET /console/{file}.
void register_routes(http::Router& router, http::ApiDocs& docs);

}  // namespace kim::console
