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

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "http/router.hpp"

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

std::optional<sdk::HttpMethod> to_method(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get:
      return sdk::HttpMethod::kGet;
    case bhttp::verb::post:
      return sdk::HttpMethod::kPost;
    case bhttp::verb::put:
      return sdk::HttpMethod::kPut;
    case bhttp::verb::patch:
      return sdk::HttpMethod::kPatch;
    case bhttp::verb::delete_:
      return sdk::HttpMethod::kDelete;
    default:
      return std::nullopt;
  }
}

// Splits "a=1&b=x%20y" into decoded pairs; '+' means space as in HTML forms. False when an
// escape is malformed.
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
      if (!percent_decode(key, decoded_key) || !percent_decode(value, decoded_value)) return false;
      out[decoded_key] = decoded_value;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace

struct Server::State : std::enable_shared_from_this<Server::State> {
  config::ServerConfig config;
  RequestHandler handler;
  PlacementPolicy placement;
  std::shared_ptr<spdlog::logger> logger;
  net::io_context ioc;
  net::thread_pool workers;
  // Acceptor, signals and the shutdown deadline are touched only on this strand.
  net::strand<net::io_context::executor_type> control{ioc.get_executor()};
  tcp::acceptor acceptor{control};
  net::signal_set signals{control, SIGINT, SIGTERM};
  net::steady_timer shutdown_deadline{control};
  std::atomic<bool> stopping{false};
  std::atomic<int> open_sessions{0};

  State(const config::ServerConfig& c, RequestHandler h, PlacementPolicy p,
        std::shared_ptr<spdlog::logger> l)
      : config(c),
        handler(std::move(h)),
        placement(std::move(p)),
        logger(std::move(l)),
        ioc(c.io_threads),
        workers(static_cast<std::size_t>(c.worker_threads)) {}

  void accept();
  void begin_shutdown();
  void session_closed();

  // Sessions register a "close if idle" callback so shutdown can end keep-alive connections.
  std::mutex idle_mutex;
  std::map<std::uint64_t, std::function<void()>> close_if_idle;
  std::uint64_t next_session_id = 0;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Server::State> server)
      : stream_(std::move(socket)), server_(std::move(server)) {
    ++server_->open_sessions;
  }
  ~Session() { server_->session_closed(); }

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
  void read_header() {
    if (server_->stopping) return finish();
    parser_.emplace();
    parser_->body_limit(server_->config.body_limit_bytes);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(first_ ? server_->config.request_timeout
                                 : server_->config.keep_alive_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    first_ = false;
    if (ec) return on_read_error(ec);
    busy_ = true;
    started_ = std::chrono::steady_clock::now();
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
      }
      return respond_error(
          413, "payload_too_large",
          "request body exceeds " + std::to_string(server_->config.body_limit_bytes) + " bytes",
          /*close=*/true);
    }
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
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
    auto& request = parser_->get();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    request_id_ = new_request_id();
    auto incoming_id = request["x-request-id"];
    static const std::regex kSafeId("[A-Za-z0-9._-]{1,64}");
    if (!incoming_id.empty() && std::regex_match(incoming_id.begin(), incoming_id.end(), kSafeId)) {
      request_id_ = std::string(incoming_id);
    }
    std::string target(request.target());
    auto question = target.find('?');
    path_ = target.substr(0, question);
    method_text_ = std::string(request.method_string());

    auto method = to_method(request.method());
    if (!method) {
      return respond_error(405, "method_not_allowed",
                           "method " + method_text_ + " is not supported", false);
    }
    sdk::HttpRequest sdk_request;
    sdk_request.method = *method;
    sdk_request.path = path_;
    sdk_request.request_id = request_id_;
    if (question != std::string::npos &&
        !parse_query(std::string_view(target).substr(question + 1), sdk_request.query)) {
      return respond_error(400, "bad_query", "malformed percent-escape in the query string", false);
    }
    for (const auto& field : request) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      sdk_request.headers[name] = std::string(field.value());
    }
    sdk_request.body = std::move(request.body());

    if (server_->placement(sdk_request) == Placement::kIoThread) {
      return run_handler(sdk_request);
    }
    // Keeps the io_context alive while the handler runs on the worker pool.
    auto guard = net::make_work_guard(server_->ioc);
    net::post(server_->workers,
              [self = shared_from_this(), sdk_request = std::move(sdk_request),
               guard = std::move(guard)]() mutable { self->run_handler(sdk_request); });
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
      server_->handler(request, respond);
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

  void write(sdk::HttpResponse response, bool close) {
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
    out->version(version_ ? version_ : 11);
    out->result(static_cast<unsigned>(response.status));
    for (const auto& [name, value] : response.headers)
      out->set(name, value);
    if (response.headers.find("content-type") == response.headers.end() && !response.body.empty()) {
      out->set(bhttp::field::content_type, "application/json");
    }
    out->set(bhttp::field::cache_control, "no-store");
    out->set("x-request-id", request_id_);
    out->body() = std::move(response.body);
    close_after_write_ = close || !keep_alive_ || server_->stopping;
    out->keep_alive(!close_after_write_);
    out->prepare_payload();
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
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::uint64_t id_ = 0;
  bool first_ = true;
  bool busy_ = false;
  bool keep_alive_ = false;
  bool close_after_write_ = false;
  unsigned version_ = 11;
  std::string request_id_;
  std::string method_text_;
  std::string path_;
  std::chrono::steady_clock::time_point started_{};
  std::size_t drain_budget_ = 0;
  std::array<char, 8192> scratch_{};
};

}  // namespace

void Server::State::accept() {
  acceptor.async_accept(net::make_strand(ioc),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          if (ec) {
                            if (ec == net::error::operation_aborted || self->stopping) return;
                            self->logger->warn("accept failed: {}", ec.message());
                          } else {
                            std::make_shared<Session>(std::move(socket), self)->start();
                          }
                          if (!self->stopping) self->accept();
                        });
}

void Server::State::begin_shutdown() {
  if (stopping.exchange(true)) return;
  logger->info("shutting down: no new connections, finishing {} open connection(s)",
               open_sessions.load());
  beast::error_code ignored;
  acceptor.close(ignored);
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

void Server::State::session_closed() {
  if (--open_sessions == 0 && stopping) {
    net::post(control, [self = shared_from_this()] {
      self->shutdown_deadline.cancel();
      self->signals.cancel();
    });
  }
}

Server::Server(const config::ServerConfig& config, RequestHandler handler,
               PlacementPolicy placement, std::shared_ptr<spdlog::logger> logger)
    : state_(std::make_shared<State>(config, std::move(handler), std::move(placement),
                                     std::move(logger))) {}

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
