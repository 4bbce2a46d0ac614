// A partner system for tests of the outbox: a real HTTP/1.1 server on 127.0.0.1 (ephemeral port,
// plain sockets, a thread per connection) that takes the `http` transport's POSTs, applies each
// idempotency key once (a repeat is answered 200 and counted), and can be told to misbehave:
// fail the next N requests with a status (and Retry-After), fail every message of one case,
// hang past the caller's timeout, drop the connection, or answer slowly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace kim::test {

class PartnerServer {
 public:
  PartnerServer();
  ~PartnerServer();
  PartnerServer(const PartnerServer&) = delete;
  PartnerServer& operator=(const PartnerServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/messages") const;

  // The next `n` requests are answered `status` (with "Retry-After: <seconds>" when >= 0).
  void fail_next(int n, int status, int retry_after = -1);
  // The next `n` requests get no answer for `how_long`, then the connection is closed.
  void hang_next(int n, std::chrono::milliseconds how_long);
  // The next `n` requests are read and the connection is closed without an answer.
  void drop_next(int n);
  // Every message about `case_id` is answered `status` until cleared (a poisoned case).
  void fail_case(const std::string& case_id, int status);
  // Every request is applied at once and answered after `delay` (a slow partner).
  void set_delay(std::chrono::milliseconds delay);
  // Back to answering 200 at once.
  void clear();

  struct Received {
    std::string idempotency_key;
    std::string authorization;
    nlohmann::json body;
    int status = 0;  // what was answered (0: nothing)
    std::chrono::steady_clock::time_point at;
  };
  // Every request, in order of arrival.
  std::vector<Received> received() const;
  // The messages applied (first 2xx per idempotency key), in order of application.
  std::vector<nlohmann::json> applied() const;
  // 2xx answers to keys applied before (the partner did not apply them again).
  int repeats() const;
  // Waits until `condition()` holds (checked after every request) or `timeout` passes.
  bool wait_for(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

 private:
  struct Action {
    enum class Kind { kStatus, kHang, kDrop } kind = Kind::kStatus;
    int status = 200;
    int retry_after = -1;
    std::chrono::milliseconds hang{0};
  };

  void accept_loop();
  void serve(int fd);

  int listener_ = -1;
  std::uint16_t port_ = 0;
  bool stopping_ = false;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<Action> script_;
  std::map<std::string, int> poisoned_cases_;
  std::chrono::milliseconds delay_{0};
  std::vector<Received> received_;
  std::vector<nlohmann::json> applied_;
  std::set<std::string> applied_keys_;
  int repeats_ = 0;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

}  // namespace kim::test
