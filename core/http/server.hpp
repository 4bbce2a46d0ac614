// The HTTP/1.1 server: Boost.Beast, asynchronous accept/read/write on a fixed pool of io threads,
// keep-alive, body limit (413), timeouts, and request handlers on a separate worker pool so a
// handler waiting for a durable commit never stalls the network threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include <spdlog/logger.h>

#include "config/host_config.hpp"
#include "kim/sdk/http.hpp"

namespace kim::http {

// Gets a request whose method, path, query, headers and body are filled in and returns the
// response. Runs on a worker thread; must not throw (the server answers 500 if it does).
using RequestHandler = std::function<sdk::HttpResponse(sdk::HttpRequest&)>;

class Server {
 public:
  Server(const config::ServerConfig& config, RequestHandler handler,
         std::shared_ptr<spdlog::logger> logger);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. Returns the bound port (useful with port 0). Throws std::runtime_error
  // with the address when binding fails.
  std::uint16_t listen();

  // Serves until SIGINT/SIGTERM (or stop()), then shuts down gracefully: stops accepting, closes
  // idle connections, lets in-flight requests finish (up to shutdown_timeout) and returns.
  // A second signal during shutdown stops at once.
  void run();

  // Begins the graceful shutdown from any thread.
  void stop();

 public:
  struct State;  // shared with the connection objects

 private:
  std::shared_ptr<State> state_;
};

}  // namespace kim::http
