#include "http/server.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <thread>
#include <unordered_map>

#include <sys/resource.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "http/auth_throttle.hpp"
#include "http/router.hpp"
#include "text/ascii.hpp"

namespace kim::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

std::string new_request_id() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::uint64_t value = generator();
  std::string id(16, '0');
  for (auto& c : id) {
    c = kDigits[value & 0xf];
    value >>= 4;
  }
  return id;
}

constexpr std::size_t kHeaderLimit = 16 * 1024;
// Connections refused with 503 that may linger (draining what the client sent, so our answer is
// not destroyed by a reset); beyond this many they are closed at once.
constexpr int kLingeringRefusals = 64;
// File descriptors kept for what is not a connection: database, logs, plugins, the event loop.
constexpr int kSpareDescriptors = 64;

// One line now and then instead of one per event, for what an attacker can trigger at will.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::seconds interval) : interval_(interval) {}
  // True when a line may be written now; `held_back` tells how many were not since the last one.
  bool allow(std::uint64_t& held_back) {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto next = next_.load(std::memory_order_relaxed);
    if (now < next ||
        !next_.compare_exchange_strong(
            next, now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval_)
                            .count())) {
      held_back_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    held_back = held_back_.exchange(0);
    return true;
  }

 private:
  std::chrono::seconds interval_;
  std::atomic<std::chrono::steady_clock::rep> next_{0};
  std::atomic<std::uint64_t> held_back_{0};
};

// Raises the soft limit of open files to the hard one (a server's connections are files) and
// returns the soft limit in force; 0 when unknown.
rlim_t raise_open_file_limit(spdlog::logger& logger) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    // "unlimited" is refused by the kernel (nr_open caps it): ask for a large finite number.
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      logger.info("open-file limit raised from {} to {}", limit.rlim_cur, raised.rlim_cur);
      return raised.rlim_cur;
    }
  }
  return limit.rlim_cur == RLIM_INFINITY ? rlim_t{1} << 20 : limit.rlim_cur;
}

std::string key_of(const net::ip::address& address) {
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    return address_key(bytes.data(), bytes.size());
  }
  const auto bytes = address.to_v6().to_bytes();
  return address_key(bytes.data(), bytes.size());
}

// RFC 9112 §5.2: a line of the header section that starts with a space or tab (obs-fold).
bool has_obs_fold(std::string_view head) {
  for (auto at = head.find("\r\n"); at != std::string_view::npos; at = head.find("\r\n", at + 2)) {
    if (at + 2 < head.size() && (head[at + 2] == ' ' || head[at + 2] == '\t')) return true;
  }
  return false;
}

// The only transfer coding we accept is exactly `chunked` (RFC 9112 §6.3: anything else that is
// not chunked at the end cannot be framed; other codings we do not decode).
bool only_chunked(const bhttp::request_header<>& header) {
  int codings = 0;
  bool chunked = false;
  for (auto it = header.find(bhttp::field::transfer_encoding);
       it != header.end() && it->name() == bhttp::field::transfer_encoding; ++it) {
    for (auto coding : bhttp::token_list(it->value())) {
      ++codings;
      chunked = beast::iequals(coding, "chunked");
    }
  }
  return codings == 1 && chunked;
}

bool valid_target(std::string_view target) {
  return std::none_of(target.begin(), target.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte >= 0x7f;
  });
}

}  // namespace

struct Server::State : std::enable_shared_from_this<Server::State> {
  config::ServerConfig config;
  Handlers handlers;
  std::shared_ptr<spdlog::logger> logger;
  net::io_context ioc;
  net::thread_pool workers;
  // Acceptor, signals, the accept back-off and the shutdown deadline: only on this strand.
  net::strand<net::io_context::executor_type> control{ioc.get_executor()};
  tcp::acceptor acceptor{control};
  net::signal_set signals{control, SIGINT, SIGTERM};
  net::steady_timer shutdown_deadline{control};
  net::steady_timer accept_pause{control};
  std::chrono::milliseconds accept_backoff{0};
  std::atomic<bool> stopping{false};
  std::atomic<int> open_sessions{0};
  std::atomic<int> lingering_refusals{0};
  int max_connections = 0;  // effective: from the config or the open-file limit

  // Open connections by client address key; touched once per connection, not per request.
  std::mutex peers_mutex;
  std::unordered_map<std::string, int> connections_by_peer;

  LogLimiter accept_errors{std::chrono::seconds(10)};
  LogLimiter refusals{std::chrono::seconds(10)};

  State(const config::ServerConfig& c, Handlers h, std::shared_ptr<spdlog::logger> l)
      : config(c),
        handlers(std::move(h)),
        logger(std::move(l)),
        ioc(c.io_threads),
        workers(static_cast<std::size_t>(c.worker_threads)) {
    const auto files = static_cast<long long>(raise_open_file_limit(*logger));
    max_connections = config.max_connections;
    if (max_connections == 0) {
      const long long fitting =
          files - kSpareDescriptors - kLingeringRefusals - config.reserved_connections;
      max_connections = static_cast<int>(std::clamp<long long>(fitting, 8, 1'000'000));
    }
  }

  void accept();
  void accept_failed(const beast::error_code& ec);
  void take(tcp::socket socket);
  void refuse(tcp::socket socket, const char* why);
  void begin_shutdown();
  void session_closed(const std::string& peer);

  // Sessions register a "close if idle" callback so shutdown can end keep-alive connections.
  std::mutex idle_mutex;
  std::map<std::uint64_t, std::function<void()>> close_if_idle;
  std::uint64_t next_session_id = 0;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `reserve`: taken beyond max_connections, so it serves only GET /health and admins.
  Session(tcp::socket socket, std::shared_ptr<Server::State> server, std::string peer, bool reserve)
      : stream_(std::move(socket)),
        server_(std::move(server)),
        peer_(std::move(peer)),
        reserve_(reserve) {
    ++server_->open_sessions;
  }
  ~Session() { server_->session_closed(peer_); }

  void start() {
    {
      std::lock_guard lock(server_->idle_mutex);
      id_ = server_->next_session_id++;
      std::weak_ptr<Session> weak = shared_from_this();
      server_->close_if_idle[id_] = [weak] {
        if (auto self = weak.lock()) {
          net::post(self->stream_.get_executor(), [self] {
            if (!self->busy_) self->stream_.socket().close();
          });
        }
      };
    }
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

 private:
  // The header section is read up to its blank line by hand, so its raw bytes can be checked
  // (obs-fold) before the parser sees them; the body is then read only if admit() lets it.
  void read_header() {
    if (server_->stopping) return finish();
    parser_.emplace();
    parser_->body_limit(server_->config.body_limit_bytes);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(first_ ? server_->config.request_timeout
                                 : server_->config.keep_alive_timeout);
    look_for_head();
  }

  // Reads until the buffer holds the blank line that ends the header section (a pipelined
  // request may already be there).
  void look_for_head() {
    const auto data = buffer_.data();
    const auto end =
        std::string_view(static_cast<const char*>(data.data()), data.size()).find("\r\n\r\n");
    if (end != std::string_view::npos) return on_head({}, end + 4);
    if (buffer_.size() >= buffer_.max_size()) return on_head(net::error::not_found, 0);
    stream_.async_read_some(
        buffer_.prepare(std::min<std::size_t>(8192, buffer_.max_size() - buffer_.size())),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          if (ec) return self->on_head(ec, 0);
          self->buffer_.commit(n);
          self->look_for_head();
        });
  }

  void on_head(beast::error_code ec, std::size_t size) {
    first_ = false;
    if (ec == net::error::not_found) {
      busy_ = true;
      return respond_error(431, "header_too_large", "request header section too large", true);
    }
    if (ec) return on_read_error(ec);
    busy_ = true;
    started_ = std::chrono::steady_clock::now();
    const auto head = std::string_view(static_cast<const char*>(buffer_.data().data()), size);
    if (has_obs_fold(head)) {
      return respond_error(400, "bad_request", "folded header lines (obs-fold) are not accepted",
                           true);
    }
    beast::error_code parse_error;
    const auto used = parser_->put(net::buffer(head.data(), head.size()), parse_error);
    buffer_.consume(used);
    if (parse_error) return on_read_error(parse_error);
    if (!parser_->is_header_done()) {
      return respond_error(400, "bad_request", "malformed HTTP request", true);
    }
    on_header();
  }

  void on_header() {
    const auto& header = parser_->get();
    keep_alive_ = header.keep_alive();
    version_ = header.version();
    has_body_ = parser_->chunked() || parser_->content_length().value_or(0) > 0;
    request_id_ = new_request_id();
    auto incoming_id = header["x-request-id"];
    static const std::regex kSafeId("[A-Za-z0-9._-]{1,64}");
    if (!incoming_id.empty() && std::regex_match(incoming_id.begin(), incoming_id.end(), kSafeId)) {
      request_id_ = std::string(incoming_id);
    }
    const std::string_view target = header.target();
    const auto question = target.find('?');
    method_text_ = std::string(header.method_string());
    if (!valid_target(target)) {
      return respond_error(400, "bad_request", "the request target holds bytes a URI may not",
                           true);
    }
    path_ = std::string(target.substr(0, question));
    if (header.find(bhttp::field::transfer_encoding) != header.end() &&
        (!only_chunked(header) || header.find(bhttp::field::content_length) != header.end())) {
      // RFC 9112 §6.3: the body cannot be framed; reading on would misread the rest.
      return respond_error(400, "bad_request",
                           "Transfer-Encoding other than \"chunked\" (or beside Content-Length) is "
                           "not accepted",
                           true);
    }

    head_ = false;
    options_ = false;
    request_ = sdk::HttpRequest{};
    switch (header.method()) {
      case bhttp::verb::head:
        head_ = true;  // served as GET, without the body
        request_.method = sdk::HttpMethod::kGet;
        break;
      case bhttp::verb::options:
        options_ = true;  // authenticated as a GET would be
        request_.method = sdk::HttpMethod::kGet;
        break;
      default:
        if (auto method = to_method(header.method())) {
          request_.method = *method;
        } else {
          return respond_error(501, "not_implemented",
                               "method " + method_text_ + " is not supported", has_body_);
        }
    }
    request_.path = path_;
    request_.request_id = request_id_;
    if (question != std::string_view::npos &&
        !parse_query(target.substr(question + 1), request_.query)) {
      return respond_error(400, "bad_query",
                           "malformed percent-escape or invalid UTF-8 in the query string",
                           has_body_);
    }
    for (const auto& field : header) {
      const auto raw_name = field.name_string();
      const std::string name = text::lower({raw_name.data(), raw_name.size()});
      if (!valid_utf8(field.value())) {
        return respond_error(400, "bad_header", "header " + name + " is not valid UTF-8",
                             has_body_);
      }
      request_.headers[name] = std::string(field.value());
    }

    if (auto refusal = server_->handlers.admit(request_, peer_)) {
      return write(std::move(*refusal), has_body_);
    }
    if (reserve_ && path_ != "/health" &&
        !(request_.principal && request_.principal->role == "admin")) {
      return respond_busy();
    }
    if (options_) {
      auto methods = server_->handlers.methods_of(path_);
      if (methods.empty()) {
        return respond_error(404, "not_found", "no resource at " + path_, has_body_);
      }
      std::string allow;
      for (auto method : methods) {
        allow += std::string(sdk::to_string(method)) + ", ";
        if (method == sdk::HttpMethod::kGet) allow += "HEAD, ";
      }
      sdk::HttpResponse answer;
      answer.status = 204;
      answer.headers["allow"] = allow + "OPTIONS";
      return write(std::move(answer), has_body_);
    }
    stream_.expires_after(server_->config.request_timeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      busy_ = true;
      if (parser_ && parser_->is_header_done()) {
        method_text_ = std::string(parser_->get().method_string());
        path_ = std::string(parser_->get().target().substr(0, parser_->get().target().find('?')));
        if (!valid_target(path_)) path_.clear();
      }
      return respond_error(
          413, "payload_too_large",
          "request body exceeds " + std::to_string(server_->config.body_limit_bytes) + " bytes",
          /*close=*/true);
    }
    if (ec == bhttp::error::header_limit) {
      busy_ = true;
      return respond_error(431, "header_too_large", "request header section too large", true);
    }
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::bad_descriptor) {
      return finish();
    }
    if (ec.category() == beast::error_code(bhttp::error::bad_target).category()) {
      busy_ = true;
      return respond_error(400, "bad_request", "malformed HTTP request", /*close=*/true);
    }
    finish();
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    request_.body = std::move(parser_->get().body());
    if (server_->handlers.placement(request_) != Placement::kWorker) {
      return run_handler(request_);
    }
    // Keeps the io_context alive while the handler runs on the worker pool.
    auto guard = net::make_work_guard(server_->ioc);
    net::post(server_->workers,
              [self = shared_from_this(), request = std::move(request_),
               guard = std::move(guard)]() mutable { self->run_handler(request); });
  }

  // On the io thread or a worker; the answer goes out on the connection's strand whenever and
  // wherever respond is called.
  void run_handler(sdk::HttpRequest& request) {
    auto answered = std::make_shared<std::atomic<bool>>(false);
    Respond respond = [self = shared_from_this(), answered,
                       guard = net::make_work_guard(server_->ioc)](sdk::HttpResponse response) {
      if (answered->exchange(true)) return;
      if (response.status < 100 || response.status > 599) {
        self->server_->logger->error("request {} failed: handler returned HTTP status {}",
                                     self->request_id_, response.status);
        response = sdk::HttpResponse::error(500, "internal_error",
                                            "internal error; request id " + self->request_id_);
      }
      // Inline when already on the connection's strand (a reply ready on the io thread).
      net::dispatch(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->write(std::move(response), false);
      });
    };
    try {
      server_->handlers.handle(request, respond);
    } catch (const std::exception& e) {
      server_->logger->error("request {} failed: {}", request_id_, e.what());
      respond(sdk::HttpResponse::error(500, "internal_error",
                                       "internal error; request id " + request_id_));
    }
  }

  void respond_error(int status, const std::string& code, const std::string& message, bool close) {
    if (request_id_.empty()) request_id_ = new_request_id();
    if (started_ == std::chrono::steady_clock::time_point{}) {
      started_ = std::chrono::steady_clock::now();
    }
    write(sdk::HttpResponse::error(status, code, message), close);
  }

  void respond_busy() {
    auto response = sdk::HttpResponse::error(
        503, "server_busy", "too many open connections; only /health and admins are served now");
    response.headers["retry-after"] = "1";
    write(std::move(response), true);
  }

  void write(sdk::HttpResponse response, bool close) {
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
    out->version(version_ ? version_ : 11);
    out->result(static_cast<unsigned>(response.status));
    for (const auto& [name, value] : response.headers)
      out->set(name, value);
    if (response.headers.find("content-type") == response.headers.end() && !response.body.empty()) {
      out->set(bhttp::field::content_type, "application/json");
    }
    // no-store unless a route chose otherwise (the console's static files revalidate by ETag).
    if (response.headers.find("cache-control") == response.headers.end()) {
      out->set(bhttp::field::cache_control, "no-store");
    }
    out->set("x-content-type-options", "nosniff");
    out->set("x-request-id", request_id_);
    out->body() = std::move(response.body);
    close_after_write_ = close || !keep_alive_ || server_->stopping;
    out->keep_alive(!close_after_write_);
    out->prepare_payload();
    // HEAD: the GET's header (with its Content-Length), no body.
    if (head_) out->body().clear();
    log_request(response.status);
    stream_.expires_after(server_->config.request_timeout);
    bhttp::async_write(stream_, *out,
                       [self = shared_from_this(), out](beast::error_code ec, std::size_t) {
                         self->on_write(ec);
                       });
  }

  void log_request(int status) {
    auto elapsed =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_);
    // Path only: query strings may carry search terms (names) and never reach the log.
    server_->logger->info(
        "{} {} {} {:.1f}ms id={}", method_text_.empty() ? std::string("-") : method_text_,
        path_.empty() ? std::string("-") : path_, status, elapsed.count(), request_id_);
  }

  void on_write(beast::error_code ec) {
    busy_ = false;
    head_ = false;
    request_id_.clear();
    method_text_.clear();
    path_.clear();
    started_ = {};
    if (ec || close_after_write_) return linger_close();
    read_header();
  }

  // Closing a socket with unread input makes the kernel send RST, which can destroy the response
  // we just wrote (typical after a 413). Shut down our side, drain briefly, then close.
  void linger_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    drain_budget_ = 16 * 1024 * 1024;
    drain();
  }

  void drain() {
    stream_.async_read_some(net::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec || n >= self->drain_budget_) return self->finish();
                              self->drain_budget_ -= n;
                              self->drain();
                            });
  }

  void finish() {
    {
      std::lock_guard lock(server_->idle_mutex);
      server_->close_if_idle.erase(id_);
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<Server::State> server_;
  const std::string peer_;
  const bool reserve_;
  // Its limit bounds what the header search may buffer; the parser enforces kHeaderLimit.
  beast::flat_buffer buffer_{2 * kHeaderLimit};
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  sdk::HttpRequest request_;
  std::uint64_t id_ = 0;
  bool first_ = true;
  bool busy_ = false;
  bool keep_alive_ = false;
  bool close_after_write_ = false;
  bool has_body_ = false;
  bool head_ = false;
  bool options_ = false;
  unsigned version_ = 11;
  std::string request_id_;
  std::string method_text_;
  std::string path_;
  std::chrono::steady_clock::time_point started_{};
  std::size_t drain_budget_ = 0;
  std::array<char, 8192> scratch_{};
};

// A connection refused at accept: a fixed 503, then a short drain so the answer is not lost to
// a reset, then closed.
class Refusal : public std::enable_shared_from_this<Refusal> {
 public:
  Refusal(tcp::socket socket, std::shared_ptr<Server::State> server)
      : stream_(std::move(socket)), server_(std::move(server)) {
    ++server_->lingering_refusals;
  }
  ~Refusal() { --server_->lingering_refusals; }

  void drain() {
    stream_.expires_after(std::chrono::seconds(1));
    stream_.async_read_some(net::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->budget_ -= std::min(self->budget_, n);
                              if (!ec && self->budget_ > 0) self->drain();
                            });
  }

 private:
  beast::tcp_stream stream_;
  std::shared_ptr<Server::State> server_;
  std::size_t budget_ = 64 * 1024;
  std::array<char, 4096> scratch_{};
};

}  // namespace

void Server::State::accept() {
  acceptor.async_accept(net::make_strand(ioc),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          if (ec == net::error::operation_aborted || self->stopping) return;
                          if (ec) return self->accept_failed(ec);
                          self->accept_backoff = std::chrono::milliseconds(0);
                          self->take(std::move(socket));
                          self->accept();
                        });
}

// Out of descriptors (or memory) the next accept fails the same way at once: pause before trying
// again, longer each time, and say so now and then instead of on every failure.
void Server::State::accept_failed(const beast::error_code& ec) {
  std::uint64_t held_back = 0;
  if (accept_errors.allow(held_back)) {
    logger->warn("accept failed: {} ({} more since the last such line); pausing accepts",
                 ec.message(), held_back);
  }
  accept_backoff = std::clamp(accept_backoff * 2, std::chrono::milliseconds(10),
                              std::chrono::milliseconds(1000));
  accept_pause.expires_after(accept_backoff);
  accept_pause.async_wait([self = shared_from_this()](beast::error_code wait_error) {
    if (!wait_error && !self->stopping) self->accept();
  });
}

void Server::State::take(tcp::socket socket) {
  beast::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  std::string peer = key_of(remote.address());
  const int open = open_sessions.load();
  const char* refused = nullptr;
  bool reserve = false;
  {
    std::lock_guard lock(peers_mutex);
    int& from_peer = connections_by_peer[peer];
    if (config.max_connections_per_address > 0 && from_peer >= config.max_connections_per_address) {
      refused = "per-address connection limit";
    } else if (open >= max_connections + config.reserved_connections) {
      refused = "connection limit";
    } else {
      ++from_peer;
      reserve = open >= max_connections;
    }
    if (from_peer == 0) connections_by_peer.erase(peer);
  }
  if (refused) return refuse(std::move(socket), refused);
  std::make_shared<Session>(std::move(socket), shared_from_this(), std::move(peer), reserve)
      ->start();
}

void Server::State::refuse(tcp::socket socket, const char* why) {
  static const std::string kBody =
      R"({"error":{"code":"server_busy","message":"too many open connections; try again later"}})";
  static const std::string kResponse =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(kBody.size()) +
      "\r\nRetry-After: 1\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
      "Connection: close\r\n\r\n" +
      kBody;
  std::uint64_t held_back = 0;
  if (refusals.allow(held_back)) {
    logger->warn(
        "refusing connections with 503 ({}; {} open, {} more refused since the last such "
        "line)",
        why, open_sessions.load(), held_back);
  }
  // A fresh socket's send buffer takes these few bytes at once: no need to wait for it.
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.send(net::buffer(kResponse), 0, ignored);
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  if (lingering_refusals.load() >= kLingeringRefusals) return;  // closed by its destructor
  std::make_shared<Refusal>(std::move(socket), shared_from_this())->drain();
}

void Server::State::begin_shutdown() {
  if (stopping.exchange(true)) return;
  logger->info("shutting down: no new connections, finishing {} open connection(s)",
               open_sessions.load());
  beast::error_code ignored;
  acceptor.close(ignored);
  accept_pause.cancel();
  std::vector<std::function<void()>> closers;
  {
    std::lock_guard lock(idle_mutex);
    for (auto& [id, closer] : close_if_idle)
      closers.push_back(closer);
  }
  for (auto& closer : closers)
    closer();
  if (open_sessions.load() == 0) {
    signals.cancel();
    return;
  }
  shutdown_deadline.expires_after(config.shutdown_timeout);
  shutdown_deadline.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;  // cancelled: every connection finished in time
    self->logger->warn("{} connection(s) still open after {}s; stopping anyway",
                       self->open_sessions.load(), self->config.shutdown_timeout.count());
    self->ioc.stop();
  });
}

void Server::State::session_closed(const std::string& peer) {
  {
    std::lock_guard lock(peers_mutex);
    if (auto it = connections_by_peer.find(peer);
        it != connections_by_peer.end() && --it->second <= 0) {
      connections_by_peer.erase(it);
    }
  }
  if (--open_sessions == 0 && stopping) {
    net::post(control, [self = shared_from_this()] {
      self->shutdown_deadline.cancel();
      self->signals.cancel();
    });
  }
}

Server::Server(const config::ServerConfig& config, Handlers handlers,
               std::shared_ptr<spdlog::logger> logger)
    : state_(std::make_shared<State>(config, std::move(handlers), std::move(logger))) {}

Server::~Server() {
  state_->workers.join();
}

std::uint16_t Server::listen() {
  beast::error_code ec;
  auto address = net::ip::make_address(state_->config.host, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on \"" + state_->config.host +
                             "\": not an IP address (" + ec.message() + ")");
  }
  tcp::endpoint endpoint(address, state_->config.port);
  auto fail = [&](const char* what) {
    throw std::runtime_error(std::string("cannot listen on ") + state_->config.host + ":" +
                             std::to_string(state_->config.port) + ": " + what + ": " +
                             ec.message());
  };
  state_->acceptor.open(endpoint.protocol(), ec);
  if (ec) fail("open");
  state_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  state_->acceptor.bind(endpoint, ec);
  if (ec) fail("bind");
  state_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("listen");
  return state_->acceptor.local_endpoint().port();
}

void Server::run() {
  auto state = state_;
  state->signals.async_wait([state](beast::error_code ec, int signal) {
    if (ec) return;
    state->logger->info("received {}", signal == SIGINT ? "SIGINT" : "SIGTERM");
    // A second signal while shutting down: stop now. (Cancelled once all connections closed.)
    state->signals.async_wait([state](beast::error_code ec, int) {
      if (ec) return;
      state->logger->warn("second signal: stopping without waiting for open connections");
      state->ioc.stop();
    });
    state->begin_shutdown();
  });
  net::post(state->control, [state] { state->accept(); });
  std::vector<std::thread> threads;
  for (int i = 1; i < state->config.io_threads; ++i) {
    threads.emplace_back([state] { state->ioc.run(); });
  }
  state->ioc.run();
  for (auto& thread : threads)
    thread.join();
  state->workers.join();
}

void Server::stop() {
  net::post(state_->control, [state = state_] { state->begin_shutdown(); });
}

}  // namespace kim::http
