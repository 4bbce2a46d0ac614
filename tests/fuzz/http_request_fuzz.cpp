// Bytes from the network as the server reads them: Beast's request parser with the server's
// limits (core/http/server.cpp), then what the server does with a parsed request before a handler
// runs: method, target split at '?', query decoding, header names, the router's match.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>

#include "http/router.hpp"

namespace {

namespace bhttp = boost::beast::http;
using kim::sdk::HttpMethod;

// As server.cpp: the default server.body_limit_bytes and the fixed header limit.
constexpr std::size_t kBodyLimit = 1048576;
constexpr std::uint32_t kHeaderLimit = 16 * 1024;

// Patterns of every shape the host and plugins register (literal and parameter segments).
const kim::http::Router& router() {
  static const kim::http::Router instance = [] {
    kim::http::Router r;
    auto ok = [](const kim::sdk::HttpRequest&) { return kim::sdk::HttpResponse{}; };
    const std::pair<HttpMethod, const char*> routes[] = {
        {HttpMethod::kGet, "/health"},
        {HttpMethod::kGet, "/api/v1/openapi.json"},
        {HttpMethod::kPost, "/api/v1/persons"},
        {HttpMethod::kGet, "/api/v1/persons/{id}"},
        {HttpMethod::kPatch, "/api/v1/persons/{id}"},
        {HttpMethod::kPost, "/api/v1/persons/{id}/consents/{consent_id}/revoke"},
        {HttpMethod::kGet, "/api/v1/cases"},
        {HttpMethod::kPatch, "/api/v1/cases/{id}/goals/{goal_id}"},
        {HttpMethod::kPost, "/api/v1/cases/{id}/referrals/{referral_id}/status"},
        {HttpMethod::kGet, "/api/v1/partners/{slug}"},
        {HttpMethod::kPatch, "/api/v1/partners/{slug}"},
        {HttpMethod::kPatch, "/api/v1/agreements/{id}"},
        {HttpMethod::kPost, "/api/v1/jobs/{name}/run"},
        {HttpMethod::kGet, "/api/v1/plugins/hello/greetings/{name}"},
        {HttpMethod::kPost, "/api/v1/plugins/hello/greetings"},
    };
    for (const auto& [method, pattern] : routes)
      r.add({method, pattern, ok, kim::sdk::RouteOptions::authenticated(), "host"});
    return r;
  }();
  return instance;
}

void handle(bhttp::request<bhttp::string_body>& request) {
  std::string target(request.target());
  auto question = target.find('?');
  std::string path = target.substr(0, question);
  auto method = kim::http::to_method(request.method());
  if (!method) return;
  std::map<std::string, std::string> query;
  if (question != std::string::npos &&
      !kim::http::parse_query(std::string_view(target).substr(question + 1), query))
    return;
  std::map<std::string, std::string> headers;
  for (const auto& field : request) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    headers[name] = std::string(field.value());
  }
  auto match = router().match(*method, path);
  // A found route is one of the table's, with one decoded value per parameter segment.
  if (match.kind == kim::http::RouteMatch::Kind::kFound &&
      match.route->pattern.find('{') == std::string::npos && !match.path_params.empty())
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Keep-alive: one buffer may hold several requests, each parsed by a fresh parser as the
  // server's next read does.
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int requests = 0; requests < 8 && !rest.empty(); ++requests) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(kBodyLimit);
    parser.header_limit(kHeaderLimit);
    parser.eager(true);
    boost::beast::error_code ec;
    // Everything that will arrive is in `rest`: need_more means the connection closed there.
    // (Putting the same bytes again after need_more breaks Beast's contract: its read loop only
    // calls again with more data appended.)
    while (!parser.is_done() && !rest.empty()) {
      std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      rest.remove_prefix(used);
      if (ec || used == 0) break;
    }
    if (ec == bhttp::error::need_more || (!ec && !parser.is_done())) {
      ec = {};
      parser.put_eof(ec);
    }
    if (ec || !parser.is_done()) return 0;
    handle(parser.get());
  }
  return 0;
}
