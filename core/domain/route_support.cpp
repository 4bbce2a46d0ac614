#include "domain/route_support.hpp"

#include <algorithm>
#include <charconv>

namespace kim::domain {

Result<Context> context_of(const sdk::HttpRequest& request) {
  Context ctx{audit::Actor{*request.principal, request.request_id}, std::nullopt};
  std::string tag = request.header("if-match");
  if (tag.empty()) return ctx;
  if (tag.rfind("W/", 0) == 0) tag = tag.substr(2);
  if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"')
    tag = tag.substr(1, tag.size() - 2);
  std::int64_t version = 0;
  auto [end, error] = std::from_chars(tag.data(), tag.data() + tag.size(), version);
  if (error != std::errc() || end != tag.data() + tag.size() || version < 1) {
    return Problem{400, "invalid_header", "If-Match must be an ETag of this API, like \"3\"",
                   "If-Match", nullptr};
  }
  ctx.if_match = version;
  return ctx;
}

sdk::HttpResponse respond(const Result<Reply>& result) {
  if (!result) return to_response(result.problem());
  auto response = sdk::HttpResponse::json(result.value().status, result.value().body);
  if (result.value().version) {
    response.headers["etag"] = "\"" + std::to_string(*result.value().version) + "\"";
  }
  return response;
}

sdk::RouteHandler reading(ReadCall call) {
  return [call = std::move(call)](const sdk::HttpRequest& request) {
    auto ctx = context_of(request);
    if (!ctx) return to_response(ctx.problem());
    return respond(call(ctx.value(), request));
  };
}

sdk::RouteHandler writing(WriteCall call) {
  return [call = std::move(call)](const sdk::HttpRequest& request) {
    auto ctx = context_of(request);
    if (!ctx) return to_response(ctx.problem());
    auto body = parse_object(request.body, max_json_depth());
    if (!body) return to_response(body.problem());
    return respond(call(ctx.value(), request, body.value()));
  };
}

void add_route(http::Router& router, http::ApiDocs& docs, sdk::HttpMethod method,
               const std::string& path, std::vector<std::string> roles,
               std::function<Result<Reply>(const Call&)> handle, const char* summary,
               const char* tag, nlohmann::json example, Writes writes) {
  const bool has_body = method == sdk::HttpMethod::kPost || method == sdk::HttpMethod::kPatch ||
                        method == sdk::HttpMethod::kPut;
  sdk::RouteHandler handler;
  if (has_body) {
    handler = writing(
        [handle](const Context& ctx, const sdk::HttpRequest& request, const nlohmann::json& body) {
          return handle(Call{ctx, request, body});
        });
  } else {
    handler = reading([handle](const Context& ctx, const sdk::HttpRequest& request) {
      static const nlohmann::json kNoBody;
      return handle(Call{ctx, request, kNoBody});
    });
  }
  RouteTable(router, docs)
      .add(method, path, std::move(handler), std::move(roles), summary, tag, std::move(example),
           writes);
}

void RouteTable::add(sdk::HttpMethod method, std::string pattern, sdk::RouteHandler handler,
                     std::vector<std::string> roles, std::string summary, std::string tag,
                     nlohmann::json example, Writes writes) {
  docs_.describe(method, pattern, {std::move(summary), std::move(tag), std::move(example)});
  router_.add({method, std::move(pattern), std::move(handler),
               sdk::RouteOptions::for_roles(std::move(roles)), "host",
               writes == Writes::kWriterBatch && method != sdk::HttpMethod::kGet});
}

Result<bool> Paging::read(const std::string& key, const std::string& value) {
  const char* begin = value.data();
  const char* end = value.data() + value.size();
  if (key == "cursor") {
    auto [stop, error] = std::from_chars(begin, end, after);
    if (error != std::errc() || stop != end || after < 0) {
      return Problem::bad_request(key, "is not a cursor this API gave out");
    }
    return true;
  }
  if (key == "limit") {
    auto [stop, error] = std::from_chars(begin, end, limit);
    if (error != std::errc() || stop != end || limit < 1 || limit > 200) {
      return Problem::bad_request(key, "must be 1 to 200");
    }
    return true;
  }
  return false;
}

std::optional<Problem> unknown_parameter(const sdk::HttpRequest& request,
                                         const std::vector<std::string>& known) {
  for (const auto& [key, value] : request.query) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Problem{400, "unknown_parameter", "unknown query parameter", key, nullptr};
    }
  }
  return std::nullopt;
}

}  // namespace kim::domain
