// A small blocking HTTP/1.1 client for tests: real TCP on loopback, one connection per client
// (keep-alive), raw access for malformed or oversized requests.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace kim::test {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

class HttpClient {
 public:
  HttpClient(std::string host, std::uint16_t port);
  ~HttpClient();

  // Sends one request on the kept-alive connection (reconnecting when the server closed it).
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = {}, const std::string& token = {},
                     const std::map<std::string, std::string>& headers = {});
  HttpResult get(const std::string& target, const std::string& token = {}) {
    return request("GET", target, {}, token);
  }
  HttpResult post(const std::string& target, const nlohmann::json& body,
                  const std::string& token = {}) {
    return request("POST", target, body.dump(), token);
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kim::test
