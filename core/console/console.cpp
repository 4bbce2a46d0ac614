#include "console/console.hpp"

namespace kim::console {

namespace {

const Asset* find_asset(std::string_view name) {
  for (const auto& asset : assets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

sdk::HttpResponse serve(const sdk::HttpRequest& request, std::string_view name) {
  const Asset* asset = find_asset(name);
  if (!asset) return sdk::HttpResponse::error(404, "not_found", "no console file " + request.path);
  sdk::HttpResponse response;
  response.headers["content-security-policy"] = std::string(kContentSecurityPolicy);
  response.headers["referrer-policy"] = "no-referrer";
  response.headers["x-frame-options"] = "DENY";
  response.headers["cross-origin-opener-policy"] = "same-origin";
  // Revalidated on every use (names carry no fingerprint); unchanged files cost a 304.
  response.headers["cache-control"] = "no-cache";
  response.headers["etag"] = std::string(asset->etag);
  if (request.header("if-none-match") == asset->etag) {
    response.status = 304;
    return response;
  }
  response.headers["content-type"] = std::string(asset->content_type);
  response.body = std::string(asset->body);
  return response;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs) {
  using sdk::HttpMethod;
  docs.describe(HttpMethod::kGet, "/", {"The web console (no token)", "console", nullptr});
  docs.describe(
      HttpMethod::kGet, "/console/{file}",
      {"The console's scripts, styles and message catalogues (no token)", "console", nullptr});
  router.add({HttpMethod::kGet, "/",
              [](const sdk::HttpRequest& request) { return serve(request, "index.html"); },
              sdk::RouteOptions::public_access(), "host"});
  router.add({HttpMethod::kGet, "/console/{file}",
              [](const sdk::HttpRequest& request) {
                return serve(request, request.path_params.at("file"));
              },
              sdk::RouteOptions::public_access(), "host"});
}

}  // namespace kim::console
