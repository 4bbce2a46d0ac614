#include "connectors/http_transport.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <charconv>
#include <optional>
#include <regex>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace kim::connectors {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace {

constexpr std::size_t kAnswerLimit = 64 * 1024;  // what a partner may answer; the body is unused

struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;
};

Endpoint parse_url(const std::string& url) {
  // scheme://host[:port][/path][?query]; no user info (credentials come from secret files).
  static const std::regex kUrl(
      R"(^(https?)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?(/[^#\s]*)?$)");
  std::smatch match;
  if (!std::regex_match(url, match, kUrl)) {
    throw std::invalid_argument("url must be http(s)://host[:port][/path] without user info");
  }
  Endpoint endpoint;
  endpoint.tls = match[1] == "https";
  endpoint.host = match[2];
  if (endpoint.host.front() == '[')
    endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
  endpoint.port = match[3].matched ? match[3].str() : (endpoint.tls ? "443" : "80");
  endpoint.target = match[4].matched ? match[4].str() : "/";
  return endpoint;
}

std::string base64(const std::string& text) {
  std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

int retry_after_seconds(const bhttp::response<bhttp::string_body>& answer) {
  auto it = answer.find(bhttp::field::retry_after);
  if (it == answer.end()) return 0;
  const auto text = it->value();
  int seconds = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  // An HTTP date instead of seconds: the host's backoff applies.
  if (error != std::errc() || end != text.data() + text.size() || seconds < 0) return 0;
  return std::min(seconds, 86400);
}

sdk::DeliveryResult judge(const bhttp::response<bhttp::string_body>& answer) {
  const int status = static_cast<int>(answer.result_int());
  // The status only: an answer's body may echo what it was sent.
  const std::string detail = "HTTP " + std::to_string(status);
  if (status >= 200 && status < 300) return sdk::DeliveryResult::delivered(detail);
  if (status == 408 || status == 429 || status >= 500) {
    return sdk::DeliveryResult::retry(detail, retry_after_seconds(answer));
  }
  return sdk::DeliveryResult::failed(detail + " (not retried)");
}

class HttpConnector : public sdk::Connector {
 public:
  HttpConnector(const json& settings, const sdk::ConnectorContext& context)
      : endpoint_(parse_url(settings.at("url").get<std::string>())),
        timeout_(context.timeout),
        tls_(net::ssl::context::tls_client) {
    if (settings.contains("bearer_token_file")) {
      authorization_ = "Bearer " + context.read_secret(settings["bearer_token_file"]);
    } else if (settings.contains("basic_user")) {
      if (!settings.contains("basic_password_file")) {
        throw std::invalid_argument("basic_user needs basic_password_file");
      }
      authorization_ = "Basic " + base64(settings["basic_user"].get<std::string>() + ":" +
                                         context.read_secret(settings["basic_password_file"]));
    }
    if (!endpoint_.tls) return;
    tls_.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                     net::ssl::context::no_tlsv1_1);
    verify_ = settings.value("verify_tls", true);
    try {
      if (settings.contains("ca_file")) {
        tls_.load_verify_file(settings["ca_file"].get<std::string>());
      } else {
        tls_.set_default_verify_paths();
      }
      if (settings.contains("client_cert_file")) {
        tls_.use_certificate_chain_file(settings["client_cert_file"].get<std::string>());
        // The key is a secret: same file rules as every secret (mode 0600).
        const auto key = context.read_secret(settings.at("client_key_file"));
        tls_.use_private_key(net::buffer(key), net::ssl::context::pem);
      }
    } catch (const boost::system::system_error& e) {
      throw std::invalid_argument(std::string("TLS files are not usable: ") + e.what());
    }
    tls_.set_verify_mode(verify_ ? net::ssl::verify_peer : net::ssl::verify_none);
  }

  sdk::DeliveryResult deliver(const sdk::OutboundMessage& message) override {
    bhttp::request<bhttp::string_body> request{bhttp::verb::post, endpoint_.target, 11};
    request.set(bhttp::field::host, endpoint_.host);
    request.set(bhttp::field::user_agent, "kim-outbox");
    request.set(bhttp::field::content_type, "application/json");
    request.set(bhttp::field::accept, "application/json");
    request.set("Idempotency-Key", message.idempotency_key);
    if (!authorization_.empty()) request.set(bhttp::field::authorization, authorization_);
    request.keep_alive(false);
    request.body() = http_message_body(message).dump();
    request.prepare_payload();

    net::io_context io;
    std::optional<sdk::DeliveryResult> result;
    net::co_spawn(io, exchange(std::move(request)),
                  [&](std::exception_ptr failure, sdk::DeliveryResult answer) {
                    if (!failure) {
                      result = std::move(answer);
                      return;
                    }
                    try {
                      std::rethrow_exception(failure);
                    } catch (const beast::system_error& e) {
                      result = sdk::DeliveryResult::retry(
                          e.code() == beast::error::timeout
                              ? "timed out after " + std::to_string(timeout_.count()) + " ms"
                              : "network error: " + e.code().message());
                    } catch (const std::exception& e) {
                      result = sdk::DeliveryResult::retry(std::string("error: ") + e.what());
                    }
                  });
    io.run();
    return result.value_or(sdk::DeliveryResult::retry("no answer"));
  }

 private:
  net::awaitable<sdk::DeliveryResult> exchange(bhttp::request<bhttp::string_body> request) {
    auto executor = co_await net::this_coro::executor;
    net::ip::tcp::resolver resolver(executor);
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    auto addresses =
        co_await resolver.async_resolve(endpoint_.host, endpoint_.port, net::use_awaitable);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kAnswerLimit);
    if (!endpoint_.tls) {
      beast::tcp_stream stream(executor);
      stream.expires_at(deadline);  // one deadline over connect, send and answer
      co_await stream.async_connect(addresses, net::use_awaitable);
      co_await bhttp::async_write(stream, request, net::use_awaitable);
      co_await bhttp::async_read(stream, buffer, parser, net::use_awaitable);
      beast::error_code ignored;
      stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
      co_return judge(parser.get());
    }
    beast::ssl_stream<beast::tcp_stream> stream(executor, tls_);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), endpoint_.host.c_str())) {
      throw beast::system_error(
          beast::error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category()));
    }
    if (verify_) stream.set_verify_callback(net::ssl::host_name_verification(endpoint_.host));
    beast::get_lowest_layer(stream).expires_at(deadline);
    co_await beast::get_lowest_layer(stream).async_connect(addresses, net::use_awaitable);
    co_await stream.async_handshake(net::ssl::stream_base::client, net::use_awaitable);
    co_await bhttp::async_write(stream, request, net::use_awaitable);
    co_await bhttp::async_read(stream, buffer, parser, net::use_awaitable);
    co_return judge(parser.get());
  }

  Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  net::ssl::context tls_;
  bool verify_ = true;
  std::string authorization_;  // never logged
};

}  // namespace

json http_message_body(const sdk::OutboundMessage& message) {
  return {{"id", message.id},
          {"idempotency_key", message.idempotency_key},
          {"type", message.type},
          {"case_id", message.case_id},
          {"subject_id", message.subject_id},
          {"created_at", message.created_at},
          {"attempt", message.attempt},
          {"payload", message.payload}};
}

sdk::ConnectorType http_transport_type() {
  sdk::ConnectorType type;
  type.name = "http";
  type.description = "JSON POST over HTTP/1.1 or HTTPS to one endpoint, with an Idempotency-Key";
  type.settings_schema = json::parse(R"({
    "type": "object",
    "required": ["url"],
    "additionalProperties": false,
    "properties": {
      "url": {"type": "string", "pattern": "^https?://[^@\\s]+$", "description": "The partner's endpoint (http:// or https://); only from the config, never from API input."},
      "verify_tls": {"type": "boolean", "default": true, "description": "Verify the server's certificate and host name (https)."},
      "ca_file": {"type": "string", "pattern": "^/", "description": "Absolute path of a PEM file of the CAs to trust instead of the system's."},
      "client_cert_file": {"type": "string", "pattern": "^/", "description": "Absolute path of a PEM client certificate (chain) for mutual TLS; needs client_key_file."},
      "client_key_file": {"type": "string", "minLength": 1, "description": "Secret file (mode 0600) with the client certificate's PEM key."},
      "bearer_token_file": {"type": "string", "minLength": 1, "description": "Secret file (mode 0600) with a bearer token sent as Authorization."},
      "basic_user": {"type": "string", "minLength": 1, "description": "User name for basic authentication; needs basic_password_file."},
      "basic_password_file": {"type": "string", "minLength": 1, "description": "Secret file (mode 0600) with the basic authentication password."}
    }
  })");
  type.create = [](const json& settings, const sdk::ConnectorContext& context) {
    if (settings.contains("client_cert_file") != settings.contains("client_key_file")) {
      throw std::invalid_argument("client_cert_file and client_key_file go together");
    }
    return std::make_unique<HttpConnector>(settings, context);
  };
  return type;
}

}  // namespace kim::connectors
