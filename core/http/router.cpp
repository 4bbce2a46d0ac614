#include "http/router.hpp"

#include <algorithm>
#include <optional>
#include <span>
#include <stdexcept>

#include <boost/container/small_vector.hpp>

#include "text/ascii.hpp"

namespace kim::http {

namespace {

bool is_parameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}' &&
         segment.substr(1, segment.size() - 2).find_first_of("{}") == std::string_view::npos;
}

// Appends path's segments to `segments`, skipping empty ones ("/a//b/" has two).
template <class Segments>
void append_segments(std::string_view path, Segments& segments) {
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
}

}  // namespace

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  append_segments(path, segments);
  return segments;
}

namespace {

// A pattern's segments ("/a/{id}": literal "a", parameter "id"), as Router::Segment (private, hence
// the template).
template <class Segment>
std::vector<Segment> compile(std::string_view pattern) {
  std::vector<Segment> segments;
  for (auto segment : split_path(pattern)) {
    const bool parameter = is_parameter(segment);
    segments.push_back(
        {std::string(parameter ? segment.substr(1, segment.size() - 2) : segment), parameter});
  }
  return segments;
}

}  // namespace

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
  auto compiled = compile<Segment>(route.pattern);
  routes_.push_back(std::move(route));
  compiled_.push_back(std::move(compiled));
}

bool Router::contains(sdk::HttpMethod method, std::string_view pattern) const {
  // The same shape: parameter names do not count, so "/x/{a}" and "/x/{b}" are one route.
  const auto wanted = compile<Segment>(pattern);
  const auto same_shape = [&](const std::vector<Segment>& have) {
    return std::equal(have.begin(), have.end(), wanted.begin(), wanted.end(),
                      [](const Segment& a, const Segment& b) {
                        return a.parameter == b.parameter && (a.parameter || a.text == b.text);
                      });
  };
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].method == method && same_shape(compiled_[i])) return true;
  }
  return false;
}

namespace {

// A request path's segments without allocating for any path a route can have (split_path's rule:
// empty segments are skipped).
using PathSegments = boost::container::small_vector<std::string_view, 12>;

PathSegments segments_of(std::string_view path) {
  PathSegments segments;
  append_segments(path, segments);
  return segments;
}

}  // namespace

// The literal segments of route `index` that equal the path's, or -1 when the shapes differ. Runs
// for every route on every request: compares lengths first and allocates nothing.
int Router::literals_matching(std::size_t index, std::span<const std::string_view> path) const {
  const auto& pattern = compiled_[index];
  if (pattern.size() != path.size()) return -1;
  int literals = 0;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (pattern[i].parameter) continue;
    if (pattern[i].text != path[i]) return -1;
    ++literals;
  }
  return literals;
}

// The decoded parameters of route `index`, whose shape matched; false when one is malformed or
// empty.
bool Router::decode_parameters(std::size_t index, std::span<const std::string_view> path,
                               std::map<std::string, std::string>& params) const {
  const auto& pattern = compiled_[index];
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (!pattern[i].parameter) continue;
    std::string value;
    if (!percent_decode(path[i], value) || value.empty() || !valid_utf8(value)) return false;
    params[pattern[i].text] = std::move(value);
  }
  return true;
}

RouteMatch Router::match(sdk::HttpMethod method, std::string_view path) const {
  // Literal segments beat parameters: "/cases/overdue" wins over "/cases/{id}".
  RouteMatch result;
  int best_literals = -1;
  const auto segments = segments_of(path);
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& route = routes_[i];
    const int literals = literals_matching(i, segments);
    if (literals < 0) continue;
    if (route.method == method && literals <= best_literals) continue;  // a better one won
    std::map<std::string, std::string> params;
    if (!decode_parameters(i, segments, params)) continue;
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
  const auto segments = segments_of(path);
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (literals_matching(i, segments) < 0) continue;
    std::map<std::string, std::string> params;
    if (!decode_parameters(i, segments, params)) continue;
    if (std::find(methods.begin(), methods.end(), routes_[i].method) == methods.end()) {
      methods.push_back(routes_[i].method);
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
