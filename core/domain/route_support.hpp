// Glue between HTTP routes and domain services: the call context from a request (principal,
// request id, If-Match), a service Result as a response (ETag from the case version), handlers
// that parse the body strictly, and one place that registers a route with its OpenAPI summary.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/service_support.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"
#include "kim/sdk/http.hpp"

namespace kim::domain {

// "If-Match: \"3\"" (or W/"3", or 3) names the case version the caller saw.
Result<Context> context_of(const sdk::HttpRequest& request);
sdk::HttpResponse respond(const Result<Reply>& result);

using ReadCall = std::function<Result<Reply>(const Context&, const sdk::HttpRequest&)>;
using WriteCall =
    std::function<Result<Reply>(const Context&, const sdk::HttpRequest&, const nlohmann::json&)>;
// A handler for a request without a body / with a JSON object body (400 if it is not one).
sdk::RouteHandler reading(ReadCall call);
sdk::RouteHandler writing(WriteCall call);

// One call of a table route: the caller's context, the request and, for POST/PATCH/PUT, its
// body (a JSON object, checked before the handler runs; empty for reads).
struct Call {
  const Context& ctx;
  const sdk::HttpRequest& request;
  const nlohmann::json& body;
  const std::string& param(const char* name) const { return request.path_params.at(name); }
};

// One row of a module's route table (as Drogon's METHOD_LIST): method, path, roles, handler,
// and its documentation. The handler is a plain function of the module's service.
template <class Service>
struct Route {
  sdk::HttpMethod method;
  const char* path;
  std::vector<std::string> roles;
  Result<Reply> (*handle)(Service&, const Call&);
  const char* summary;
  const char* tag;
  nlohmann::json example = nullptr;  // a request body for the documentation
};

// Where a table's writes run. kWriterBatch: the whole request inside the store's writer batch
// (http::Route::in_writer_batch) — for services whose writes only change the database, through
// Transactions::write, and never wait for anything else (no partner, no password hash, no
// checkpoint, no wake-up of another thread that must see the change). kWorker: a worker thread
// waits for each commit.
enum class Writes { kWorker, kWriterBatch };

// The one adapter from table rows to live routes and their OpenAPI entries.
void add_route(http::Router& router, http::ApiDocs& docs, sdk::HttpMethod method,
               const std::string& path, std::vector<std::string> roles,
               std::function<Result<Reply>(const Call&)> handle, const char* summary,
               const char* tag, nlohmann::json example, Writes writes = Writes::kWorker);

template <class Service>
void add_routes(http::Router& router, http::ApiDocs& docs, Service& service,
                const std::vector<Route<Service>>& routes, Writes writes = Writes::kWorker) {
  for (const auto& route : routes) {
    add_route(
        router, docs, route.method, route.path, route.roles,
        [&service, handle = route.handle](const Call& call) { return handle(service, call); },
        route.summary, route.tag, route.example, writes);
  }
}

// Registers host routes together with their API documentation.
class RouteTable {
 public:
  RouteTable(http::Router& router, http::ApiDocs& docs) : router_(router), docs_(docs) {}
  void add(sdk::HttpMethod method, std::string pattern, sdk::RouteHandler handler,
           std::vector<std::string> roles, std::string summary, std::string tag,
           nlohmann::json example = nullptr, Writes writes = Writes::kWorker);

 private:
  http::Router& router_;
  http::ApiDocs& docs_;
};

// Cursor pagination of a list: "cursor" (a position this API gave out) and "limit" (1-200).
struct Paging {
  std::int64_t after = 0;
  int limit = 50;
  // True when `key` is one of the two (and its value was read), false when it is another key;
  // a Problem when its value is bad.
  Result<bool> read(const std::string& key, const std::string& value);
};

// Query parameters: rejects names outside `known` (400 unknown_parameter).
std::optional<Problem> unknown_parameter(const sdk::HttpRequest& request,
                                         const std::vector<std::string>& known);

}  // namespace kim::domain
