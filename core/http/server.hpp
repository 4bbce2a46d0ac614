// The HTTP/1.1 server: Boost.Beast, asynchronous accept/read/write on a fixed pool of io threads,
// keep-alive, body limit (413), timeouts, connection limits (a fast 503 beyond them, with a
// reserve for /health and admins), strict framing (RFC 9112), authentication before the body. Each
// request's handler runs where the placement says: short work that never waits (reads, and
// writes the host hands to the store's writer as a whole) on the io thread that read the request,
// saving thread hand-offs; work that may wait (a durable commit, a partner) on a separate worker
// pool, so that it never stalls the network threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "config/host_config.hpp"
#include "kim/sdk/http.hpp"

namespace kim::http {

// Sends the answer to a request: call exactly once, from any thread, possibly after the handler
// returned (e.g. when a durable commit the answer depends on is done).
using Respond = std::function<void(sdk::HttpResponse)>;

// Gets a request whose method, path, query, headers and body are filled in and answers it through
// respond. Runs on the thread the placement chose. May throw before it called respond (the server
// then answers 500), never after.
using RequestHandler = std::function<void(sdk::HttpRequest&, Respond)>;

enum class Placement {
  kIoThread,     // quick work that never blocks for long
  kWorker,       // may wait: durable commits, partners, plugins' code
  kWriterBatch,  // the handler only queues the request for the store's writer and answers later
                 // (run on the io thread, like kIoThread)
};
// Chooses where a request's handler runs; called on the io thread, must be quick.
using PlacementPolicy = std::function<Placement(const sdk::HttpRequest&)>;

// Runs on the io thread once the headers are in, before a byte of the body is read: answers
// the request at once (401, 429, …; the body is then never read and the connection closes when
// one was announced) or lets it through, possibly with request.principal filled in. `peer` is
// the client's address key (http::address_key).
using Admission = std::function<std::optional<sdk::HttpResponse>(sdk::HttpRequest& request,
                                                                 std::string_view peer)>;
// The methods of the resource at `path` for OPTIONS; empty when there is none.
using MethodsOf = std::function<std::vector<sdk::HttpMethod>(std::string_view path)>;

struct Handlers {
  RequestHandler handle;
  PlacementPolicy placement;
  Admission admit;
  MethodsOf methods_of;
};

class Server {
 public:
  Server(const config::ServerConfig& config, Handlers handlers,
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
