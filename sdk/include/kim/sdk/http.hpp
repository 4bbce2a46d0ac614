// HTTP request and response as plugins see them: plain values, independent of the server library.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kim::sdk {

enum class HttpMethod { kGet, kPost, kPut, kPatch, kDelete };

std::string_view to_string(HttpMethod method);

// Who sent the request. Roles: admin, case_manager, coordinator, authority_officer, auditor.
struct Principal {
  std::int64_t user_id = 0;
  std::string user_name;
  std::string role;
  std::int64_t organisation_id = 0;  // 0 when the user belongs to none (admins, auditors)
  std::string organisation;          // the organisation's slug, empty when none
};

struct HttpRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string path;                                // without the query string
  std::map<std::string, std::string> path_params;  // from `{name}` segments of the route
  std::map<std::string, std::string> query;        // decoded query parameters
  std::map<std::string, std::string> headers;      // names lower-case
  std::string body;
  std::string request_id;              // also sent back as X-Request-Id; use it in log lines
  std::optional<Principal> principal;  // empty only on public routes

  // The header's value, or empty when absent. `name` must be lower-case.
  std::string header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;

  // 2xx with a JSON body and Content-Type application/json.
  static HttpResponse json(int status, const nlohmann::json& body);
  // The one error shape of the whole API: {"error": {"code", "message", "field"?}}.
  static HttpResponse error(int status, std::string_view code, std::string_view message,
                            std::string_view field = {});
};

struct RouteOptions {
  bool public_route = false;       // true: no token needed (use sparingly, never for personal data)
  std::vector<std::string> roles;  // empty: any authenticated user; else one of these roles

  static RouteOptions authenticated() { return {}; }
  static RouteOptions public_access() { return {true, {}}; }
  static RouteOptions for_roles(std::vector<std::string> roles) {
    return {false, std::move(roles)};
  }
};

// ---- inline definitions (header-only so plugins link nothing of the host) ----

inline std::string_view to_string(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet:
      return "GET";
    case HttpMethod::kPost:
      return "POST";
    case HttpMethod::kPut:
      return "PUT";
    case HttpMethod::kPatch:
      return "PATCH";
    case HttpMethod::kDelete:
      return "DELETE";
  }
  return "?";
}

inline std::string HttpRequest::header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

inline HttpResponse HttpResponse::json(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.headers["content-type"] = "application/json";
  response.body = body.dump();
  return response;
}

inline HttpResponse HttpResponse::error(int status, std::string_view code, std::string_view message,
                                        std::string_view field) {
  nlohmann::json error = {{"code", code}, {"message", message}};
  if (!field.empty()) error["field"] = field;
  return json(status, {{"error", error}});
}

}  // namespace kim::sdk
