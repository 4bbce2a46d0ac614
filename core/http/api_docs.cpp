#include "http/api_docs.hpp"

#include "text/ascii.hpp"

namespace kim::http {

namespace {

std::string key_of(sdk::HttpMethod method, const std::string& pattern) {
  return std::string(sdk::to_string(method)) + " " + pattern;
}

}  // namespace

void ApiDocs::describe(sdk::HttpMethod method, const std::string& pattern, RouteDoc doc) {
  docs_[key_of(method, pattern)] = std::move(doc);
}

bool ApiDocs::has(sdk::HttpMethod method, const std::string& pattern) const {
  return docs_.count(key_of(method, pattern)) > 0;
}

nlohmann::json ApiDocs::document(const Router& router, const std::string& version) const {
  nlohmann::json error_schema = {{"type", "object"},
                                 {"required", {"error"}},
                                 {"properties",
                                  {{"error",
                                    {{"type", "object"},
                                     {"required", {"code", "message"}},
                                     {"properties",
                                      {{"code", {{"type", "string"}}},
                                       {"message", {{"type", "string"}}},
                                       {"field", {{"type", "string"}}},
                                       {"details", {{"type", "object"}}}}}}}}}};
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& route : router.routes()) {
    nlohmann::json operation;
    auto it = docs_.find(key_of(route.method, route.pattern));
    if (it != docs_.end()) {
      operation["summary"] = it->second.summary;
      operation["tags"] = {it->second.tag};
      if (!it->second.request_example.is_null()) {
        operation["requestBody"] = {
            {"required", true},
            {"content", {{"application/json", {{"example", it->second.request_example}}}}}};
      }
    } else {
      operation["summary"] = "Route of plugin " + route.owner;
      operation["tags"] = {"plugin:" + route.owner};
    }
    operation["operationId"] = text::lower(sdk::to_string(route.method)) + route.pattern;
    nlohmann::json parameters = nlohmann::json::array();
    for (auto segment : split_path(route.pattern)) {
      if (segment.size() > 2 && segment.front() == '{') {
        parameters.push_back({{"name", std::string(segment.substr(1, segment.size() - 2))},
                              {"in", "path"},
                              {"required", true},
                              {"schema", {{"type", "string"}}}});
      }
    }
    if (!parameters.empty()) operation["parameters"] = parameters;
    if (!route.options.public_route)
      operation["security"] = {{{"bearer", nlohmann::json::array()}}};
    operation["responses"] = {
        {"200", {{"description", "success (201 for creations)"}}},
        {"default",
         {{
              "description",
              "error",
          },
          {"content",
           {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}}}};
    paths[route.pattern][text::lower(sdk::to_string(route.method))] = operation;
  }
  return {{"openapi", "3.0.3"},
          {"info",
           {{"title", "KIM Platform API"},
            {"version", version},
            {"description",
             "Case management and partner network for Kommunales Integrationsmanagement. "
             "Authenticate with Authorization: Bearer <token>. Errors share one shape."}}},
          {"paths", paths},
          {"components",
           {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
            {"schemas", {{"Error", error_schema}}}}}};
}

}  // namespace kim::http
