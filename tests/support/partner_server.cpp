#include "support/partner_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace kim::test {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Reads one request (header section and a Content-Length body); false when the peer went away.
bool read_request(int fd, std::map<std::string, std::string>& headers, std::string& body) {
  std::string data;
  char chunk[4096];
  std::size_t header_end = std::string::npos;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    data.append(chunk, static_cast<std::size_t>(n));
  }
  std::size_t line_start = data.find("\r\n") + 2;
  while (line_start < header_end) {
    const auto line_end = data.find("\r\n", line_start);
    const auto line = data.substr(line_start, line_end - line_start);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      headers[lower(line.substr(0, colon))] = value;
    }
    line_start = line_end + 2;
  }
  const std::size_t length =
      headers.count("content-length") ? std::stoul(headers["content-length"]) : 0;
  body = data.substr(header_end + 4);
  while (body.size() < length) {
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    body.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

void send_all(int fd, const std::string& text) {
  std::size_t sent = 0;
  while (sent < text.size()) {
    const auto n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace

PartnerServer::PartnerServer() {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener_ < 0) throw std::runtime_error("partner server: no socket");
  int yes = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener_, 128) != 0) {
    throw std::runtime_error("partner server: cannot listen on 127.0.0.1");
  }
  socklen_t size = sizeof address;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

PartnerServer::~PartnerServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  acceptor_.join();
  ::close(listener_);
  for (auto& connection : connections_)
    connection.join();
}

std::string PartnerServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void PartnerServer::fail_next(int n, int status, int retry_after) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < n; ++i)
    script_.push_back({Action::Kind::kStatus, status, retry_after, {}});
}

void PartnerServer::hang_next(int n, std::chrono::milliseconds how_long) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < n; ++i)
    script_.push_back({Action::Kind::kHang, 0, -1, how_long});
}

void PartnerServer::drop_next(int n) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < n; ++i)
    script_.push_back({Action::Kind::kDrop, 0, -1, {}});
}

void PartnerServer::fail_case(const std::string& case_id, int status) {
  std::lock_guard lock(mutex_);
  poisoned_cases_[case_id] = status;
}

void PartnerServer::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  delay_ = delay;
}

void PartnerServer::clear() {
  std::lock_guard lock(mutex_);
  script_.clear();
  poisoned_cases_.clear();
  delay_ = std::chrono::milliseconds(0);
}

std::vector<PartnerServer::Received> PartnerServer::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::vector<nlohmann::json> PartnerServer::applied() const {
  std::lock_guard lock(mutex_);
  return applied_;
}

int PartnerServer::repeats() const {
  std::lock_guard lock(mutex_);
  return repeats_;
}

bool PartnerServer::wait_for(const std::function<bool()>& condition,
                             std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  while (true) {
    lock.unlock();
    if (condition()) return true;
    lock.lock();
    // Woken by every request; the bound also lets conditions on other state (the host's API) in.
    if (changed_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                         std::chrono::milliseconds(50))) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      lock.unlock();
      return condition();
    }
  }
}

void PartnerServer::accept_loop() {
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    pollfd ready{listener_, POLLIN, 0};
    if (::poll(&ready, 1, 50) <= 0) continue;
    const int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    connections_.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
    });
  }
}

void PartnerServer::serve(int fd) {
  std::map<std::string, std::string> headers;
  std::string text;
  if (!read_request(fd, headers, text)) return;
  Received request;
  request.idempotency_key = headers["idempotency-key"];
  request.authorization = headers["authorization"];
  request.body = nlohmann::json::parse(text, nullptr, false);
  request.at = std::chrono::steady_clock::now();
  Action action;
  std::chrono::milliseconds delay{0};
  {
    std::unique_lock lock(mutex_);
    const std::string case_id =
        request.body.is_object() ? request.body.value("case_id", std::string()) : std::string();
    if (auto it = poisoned_cases_.find(case_id); it != poisoned_cases_.end()) {
      action.status = it->second;
    } else if (!script_.empty()) {
      action = script_.front();
      script_.pop_front();
    }
    delay = delay_;
    if (action.kind == Action::Kind::kStatus && action.status / 100 == 2) {
      // Applied on receipt, before the answer: a caller killed meanwhile sends it again.
      if (applied_keys_.insert(request.idempotency_key).second) {
        applied_.push_back(request.body);
      } else {
        ++repeats_;
      }
    }
    request.status = action.kind == Action::Kind::kStatus ? action.status : 0;
    received_.push_back(request);
    if (action.kind == Action::Kind::kHang) {
      changed_.wait_for(lock, action.hang, [this] { return stopping_; });
    } else if (delay.count() > 0) {
      changed_.wait_for(lock, delay, [this] { return stopping_; });
    }
  }
  changed_.notify_all();
  if (action.kind != Action::Kind::kStatus) return;  // hang (after the wait) or drop: no answer
  std::string answer = "HTTP/1.1 " + std::to_string(action.status) + " Status\r\n";
  if (action.retry_after >= 0)
    answer += "Retry-After: " + std::to_string(action.retry_after) + "\r\n";
  answer += "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
  send_all(fd, answer);
}

}  // namespace kim::test
