#include "http/router.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "text/ascii.hpp"

namespace kim::http {

namespace {

bool is_parameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}' &&
         segment.substr(1, segment.size() - 2).find_first_of("{}") == std::string_view::npos;
}

// The pattern with parameter names erased, so "/x/{a}" and "/x/{b}" compare equal.
std::string shape_of(std::string_view pattern) {
  std::string shape;
  for (auto segment : split_path(pattern)) {
    shape += '/';
    shape += is_parameter(segment) ? std::string_view("{}") : segment;
  }
  return shape;
}

}  // namespace

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start < path.size()) {
    if (path[start] == '/') {
      ++start;
      continue;
    }
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    segments.push_back(path.substr(start, end - start));
    start = end;
  }
  return segments;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int high = text::hex_digit_value(in[i + 1]);
    int low = text::hex_digit_value(in[i + 2]);
    if (high < 0 || low < 0) return false;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

bool valid_utf8(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xbf;  // the allowed range of the second byte
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) low = 0xa0;   // overlong
      if (lead == 0xed) high = 0x9f;  // surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) low = 0x90;   // overlong
      if (lead == 0xf4) high = 0x8f;  // past U+10FFFF
    } else {
      return false;
    }
    if (size - i < length || bytes[i + 1] < low || bytes[i + 1] > high) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if ((bytes[i + k] & 0xc0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

void Router::add(Route route) {
  if (route.pattern.empty() || route.pattern.front() != '/') {
    throw std::invalid_argument("route \"" + route.pattern + "\" must start with '/'");
  }
  std::vector<std::string_view> parameter_names;
  for (auto segment : split_path(route.pattern)) {
    bool braces = segment.find_first_of("{}") != std::string_view::npos;
    if (braces && !is_parameter(segment)) {
      throw std::invalid_argument("route \"" + route.pattern + "\": segment \"" +
                                  std::string(segment) + "\" must be literal or {name}");
    }
    if (!braces) continue;
    if (std::find(parameter_names.begin(), parameter_names.end(), segment) !=
        parameter_names.end()) {
      throw std::invalid_argument("route \"" + route.pattern + "\": parameter " +
                                  std::string(segment) + " appears twice");
    }
    parameter_names.push_back(segment);
  }
  if (contains(route.method, route.pattern)) {
    throw std::invalid_argument("route " + std::string(sdk::to_string(route.method)) + " " +
                                route.pattern + " is already registered");
  }
  routes_.push_back(std::move(route));
}

bool Router::contains(sdk::HttpMethod method, std::string_view pattern) const {
  const auto shape = shape_of(pattern);
  return std::any_of(routes_.begin(), routes_.end(), [&](const Route& r) {
    return r.method == method && shape_of(r.pattern) == shape;
  });
}

namespace {

// The next segment of `rest` (skipping empty ones, as split_path does), or nothing at the end.
std::optional<std::string_view> next_segment(std::string_view& rest) {
  std::size_t start = 0;
  while (start < rest.size() && rest[start] == '/')
    ++start;
  if (start == rest.size()) {
    rest = {};
    return std::nullopt;
  }
  auto end = rest.find('/', start);
  if (end == std::string_view::npos) end = rest.size();
  const auto segment = rest.substr(start, end - start);
  rest.remove_prefix(end);
  return segment;
}

// Literal segments of pattern that equal path's, or -1 when the shapes differ. Allocates nothing:
// it runs for every route on every request.
int literal_match(std::string_view pattern, std::string_view path) {
  int literals = 0;
  for (;;) {
    const auto expected = next_segment(pattern);
    const auto actual = next_segment(path);
    if (!expected || !actual) return !expected && !actual ? literals : -1;
    if (is_parameter(*expected)) continue;
    if (*expected != *actual) return -1;
    ++literals;
  }
}

// The decoded parameters of a route whose shape matched; false when one is malformed or empty.
bool decode_parameters(std::string_view pattern, std::string_view path,
                       std::map<std::string, std::string>& params) {
  for (;;) {
    const auto expected = next_segment(pattern);
    const auto actual = next_segment(path);
    if (!expected || !actual) return true;
    if (!is_parameter(*expected)) continue;
    std::string value;
    if (!percent_decode(*actual, value) || value.empty() || !valid_utf8(value)) return false;
    params[std::string(expected->substr(1, expected->size() - 2))] = std::move(value);
  }
}

}  // namespace

RouteMatch Router::match(sdk::HttpMethod method, std::string_view path) const {
  // Literal segments beat parameters: "/cases/overdue" wins over "/cases/{id}".
  RouteMatch result;
  int best_literals = -1;
  for (const auto& route : routes_) {
    const int literals = literal_match(route.pattern, path);
    if (literals < 0) continue;
    if (route.method == method && literals <= best_literals) continue;  // a better one won
    std::map<std::string, std::string> params;
    if (!decode_parameters(route.pattern, path, params)) continue;
    if (route.method == method) {
      best_literals = literals;
      result.kind = RouteMatch::Kind::kFound;
      result.route = &route;
      result.path_params = std::move(params);
    } else if (std::find(result.allowed.begin(), result.allowed.end(), route.method) ==
               result.allowed.end()) {
      result.allowed.push_back(route.method);
    }
  }
  if (result.kind != RouteMatch::Kind::kFound && !result.allowed.empty()) {
    result.kind = RouteMatch::Kind::kMethodNotAllowed;
  }
  return result;
}

std::vector<sdk::HttpMethod> Router::methods_of(std::string_view path) const {
  std::vector<sdk::HttpMethod> methods;
  for (const auto& route : routes_) {
    if (literal_match(route.pattern, path) < 0) continue;
    std::map<std::string, std::string> params;
    if (!decode_parameters(route.pattern, path, params)) continue;
    if (std::find(methods.begin(), methods.end(), route.method) == methods.end()) {
      methods.push_back(route.method);
    }
  }
  return methods;
}

std::vector<std::string> Router::patterns_of(const std::string& owner) const {
  std::vector<std::string> patterns;
  for (const auto& route : routes_) {
    if (route.owner == owner) {
      patterns.push_back(std::string(sdk::to_string(route.method)) + " " + route.pattern);
    }
  }
  return patterns;
}

std::optional<sdk::HttpMethod> to_method(boost::beast::http::verb verb) {
  switch (verb) {
    case boost::beast::http::verb::get:
      return sdk::HttpMethod::kGet;
    case boost::beast::http::verb::post:
      return sdk::HttpMethod::kPost;
    case boost::beast::http::verb::put:
      return sdk::HttpMethod::kPut;
    case boost::beast::http::verb::patch:
      return sdk::HttpMethod::kPatch;
    case boost::beast::http::verb::delete_:
      return sdk::HttpMethod::kDelete;
    default:
      return std::nullopt;
  }
}

// Splits "a=1&b=x%20y" into decoded pairs; '+' means space as in HTML forms. False when an
// escape is malformed or a decoded key or value is not UTF-8 (handlers echo them into JSON).
bool parse_query(std::string_view query, std::map<std::string, std::string>& out) {
  std::size_t start = 0;
  while (start <= query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    auto pair = query.substr(start, end - start);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      std::string key(pair.substr(0, eq));
      std::string value(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
      std::replace(key.begin(), key.end(), '+', ' ');
      std::replace(value.begin(), value.end(), '+', ' ');
      std::string decoded_key, decoded_value;
      if (!percent_decode(key, decoded_key) || !percent_decode(value, decoded_value) ||
          !valid_utf8(decoded_key) || !valid_utf8(decoded_value)) {
        return false;
      }
      out[decoded_key] = decoded_value;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace kim::http
