// The OpenAPI 3 document of the HTTP API, built from the router's real routes plus a summary
// per route, so it cannot list a route that does not exist or miss one that does.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "http/router.hpp"

namespace kim::http {

struct RouteDoc {
  std::string summary;
  std::string tag;
  nlohmann::json request_example = nullptr;  // a valid request body, when the route takes one
};

class ApiDocs {
 public:
  void describe(sdk::HttpMethod method, const std::string& pattern, RouteDoc doc);
  bool has(sdk::HttpMethod method, const std::string& pattern) const;
  // Every route of the router; plugin routes without a description get a generic one.
  nlohmann::json document(const Router& router, const std::string& version) const;

 private:
  std::map<std::string, RouteDoc> docs_;  // "GET /api/v1/cases"
};

}  // namespace kim::http
