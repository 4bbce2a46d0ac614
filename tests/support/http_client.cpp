#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kim::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct HttpClient::Impl {
  std::string host;
  std::uint16_t port;
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool connected = false;

  void connect() {
    net::ip::tcp::endpoint endpoint(net::ip::make_address(host), port);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(endpoint);
    buffer.clear();
    connected = true;
  }
};

HttpClient::HttpClient(std::string host, std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

HttpClient::~HttpClient() {
  beast::error_code ignored;
  impl_->stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
}

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body, const std::string& token,
                               const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->connected) impl_->connect();
    bhttp::request<bhttp::string_body> request;
    request.method_string(method);
    request.target(target);
    request.version(11);
    request.set(bhttp::field::host, impl_->host);
    if (!token.empty()) request.set(bhttp::field::authorization, "Bearer " + token);
    for (const auto& [name, value] : headers)
      request.set(name, value);
    if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    request.keep_alive(true);

    beast::error_code ec;
    impl_->stream.expires_after(std::chrono::seconds(30));
    bhttp::write(impl_->stream, request, ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!ec) bhttp::read(impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
      // The server may have closed an idle keep-alive connection: retry once on a new one.
      impl_->stream.close();
      impl_->connected = false;
      if (attempt == 0 && (ec == bhttp::error::end_of_stream ||
                           ec == net::error::connection_reset || ec == net::error::broken_pipe)) {
        continue;
      }
      throw beast::system_error(ec);
    }
    auto& response = parser.get();
    HttpResult result;
    result.status = static_cast<int>(response.result_int());
    for (const auto& field : response) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      result.headers[name] = std::string(field.value());
    }
    result.body = response.body();
    if (!response.keep_alive()) {
      impl_->stream.close();
      impl_->connected = false;
    }
    return result;
  }
  throw std::runtime_error("unreachable");
}

}  // namespace kim::test
