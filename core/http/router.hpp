// Maps method + path to a handler. Patterns are literal segments and `{name}` parameters:
// "/api/v1/cases/{id}/transitions". Routes are added while the host starts, then only read.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "kim/sdk/host.hpp"
#include "kim/sdk/http.hpp"

namespace kim::http {

struct Route {
  sdk::HttpMethod method;
  std::string pattern;
  sdk::RouteHandler handler;
  sdk::RouteOptions options;
  std::string owner;  // "host" or a plugin id
  // A host write whose whole request the store's writer runs inside its batch
  // (store::Store::write_then): for handlers that only change the database, never wait for
  // anything else and publish what plugins must hear as events.
  bool in_writer_batch = false;
};

struct RouteMatch {
  enum class Kind { kFound, kMethodNotAllowed, kNotFound };
  Kind kind = Kind::kNotFound;
  const Route* route = nullptr;
  std::map<std::string, std::string> path_params;
  std::vector<sdk::HttpMethod> allowed;  // for 405
};

class Router {
 public:
  // Throws std::invalid_argument for a malformed pattern or a method+pattern already taken
  // (patterns that differ only in parameter names count as the same).
  void add(Route route);
  bool contains(sdk::HttpMethod method, std::string_view pattern) const;

  // `path` is the raw request path (no query); parameters are percent-decoded. A parameter that
  // is empty, malformed or not UTF-8 after decoding matches no route (404).
  RouteMatch match(sdk::HttpMethod method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }
  std::vector<std::string> patterns_of(const std::string& owner) const;
  // The methods of the routes whose pattern matches `path` (for OPTIONS), in order of adding.
  std::vector<sdk::HttpMethod> methods_of(std::string_view path) const;
  void clear() {
    routes_.clear();
    compiled_.clear();
  }

 private:
  // A pattern's segment: a literal, or a parameter's name without braces.
  struct Segment {
    std::string text;
    bool parameter;
  };
  int literals_matching(std::size_t index, std::span<const std::string_view> path) const;
  bool decode_parameters(std::size_t index, std::span<const std::string_view> path,
                         std::map<std::string, std::string>& params) const;

  std::vector<Route> routes_;
  std::vector<std::vector<Segment>> compiled_;  // routes_[i]'s pattern, split once when added
};

// Splits "/a/b/c" into {"a","b","c"}; an empty path or "/" gives {}.
std::vector<std::string_view> split_path(std::string_view path);
// Decodes %XX escapes (and nothing else). False for a malformed escape.
bool percent_decode(std::string_view in, std::string& out);
// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF). What the API echoes into JSON must be.
bool valid_utf8(std::string_view text);

// The API's method for a Beast verb; nullopt for methods no route can have.
std::optional<sdk::HttpMethod> to_method(boost::beast::http::verb verb);
// Splits "a=1&b=x%20y" into decoded pairs; '+' means space as in HTML forms. False when an
// escape is malformed or a decoded key or value is not UTF-8 (handlers echo them into JSON).
bool parse_query(std::string_view query, std::map<std::string, std::string>& out);

}  // namespace kim::http
