// The real `kim serve` against hostile HTTP: unauthenticated bodies, connection floods, running
// out of file descriptors, invalid UTF-8, ambiguous framing, token guessing. Raw sockets, so the
// tests send exactly the bytes an attacker would.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/http_client.hpp"
#include "support/kim_process.hpp"

namespace kim::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

// One TCP connection from `source` (any 127.0.0.0/8 address) to kim, with receive and send
// timeouts so that a server that never answers fails the test instead of hanging it.
class Raw {
 public:
  Raw(std::uint16_t port, const char* source = "127.0.0.1",
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  }
  ~Raw() { ::close(fd_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  bool connected() const { return connected_; }

  // Sends what the socket takes; false once the peer is gone or the send timed out.
  bool send(std::string_view data) {
    while (!data.empty()) {
      const auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Everything until the server closes (or the timeout).
  std::string read_to_end() {
    std::string all = std::move(pending_);
    pending_.clear();
    char chunk[4096];
    for (;;) {
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return all;
      all.append(chunk, static_cast<std::size_t>(n));
    }
  }

  struct Response {
    int status = 0;  // 0: none came
    std::string head;
    std::string body;
    std::string header(const std::string& name) const {
      std::smatch match;
      std::regex pattern("\r\n" + name + ": *([^\r]*)\r\n", std::regex::icase);
      return std::regex_search(head, match, pattern) ? match[1].str() : std::string();
    }
  };

  // One response (HEAD: `with_body` false); status 0 when none came.
  Response read_response(bool with_body = true) {
    Response response;
    char chunk[4096];
    std::size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return response;
      pending_.append(chunk, static_cast<std::size_t>(n));
    }
    response.head = pending_.substr(0, end + 2);
    pending_.erase(0, end + 4);
    if (response.head.rfind("HTTP/1.1 ", 0) == 0) {
      response.status = std::atoi(response.head.c_str() + 9);
    }
    const auto length = with_body ? std::atoi(response.header("content-length").c_str()) : 0;
    while (pending_.size() < static_cast<std::size_t>(length)) {
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      pending_.append(chunk, static_cast<std::size_t>(n));
    }
    response.body = pending_.substr(0, static_cast<std::size_t>(length));
    pending_.erase(0, response.body.size());
    return response;
  }

  Response exchange(const std::string& request) {
    send(request);
    return read_response();
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

std::string get(const std::string& target, const std::string& token = {},
                const std::string& extra = {}) {
  return "GET " + target + " HTTP/1.1\r\nHost: kim\r\n" +
         (token.empty() ? "" : "Authorization: Bearer " + token + "\r\n") + extra + "\r\n";
}

std::string error_code(const Raw::Response& response) {
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) return "<no error body: " + response.body + ">";
  return body["error"].value("code", "<no code>");
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++count;
  return count;
}

// A kim of its own: config with the example plugin and one welfare organisation, an admin and a
// case manager made with `kim token create`, started (optionally under `prlimit`).
class Kim {
 public:
  explicit Kim(nlohmann::json server, std::vector<std::string> prlimit = {}) {
    nlohmann::json config = {
        {"deployment", {{"name", "Hardening"}}},
        {"data_dir", "data"},
        {"server", std::move(server)},
        {"organisations",
         {{{"slug", "caritas-rheine"},
           {"name", "Caritasverband Rheine"},
           {"kind", "welfare_organisation"},
           {"town", "Rheine"}}}},
        {"plugins",
         {{"directories", {KIM_PLUGIN_DIR}}, {"settings", {{"hello", nlohmann::json::object()}}}}}};
    std::ofstream(config_path()) << config.dump(2);
    admin_ = create_token({"--user", "admin", "--role", "admin"});
    case_manager_ =
        create_token({"--user", "cm", "--role", "case_manager", "--org", "caritas-rheine"});
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = free_port();
      std::vector<std::string> args = prlimit;
      if (!prlimit.empty()) args.push_back(KIM_BINARY);
      args.insert(args.end(), {"serve", "--config", config_path(), "--listen"});
      args.push_back("127.0.0.1:" + std::to_string(port_));
      process_ = std::make_unique<KimProcess>(prlimit.empty() ? KIM_BINARY : "/usr/bin/prlimit",
                                              args, dir_.path() / "kim.log");
      if (process_->wait_ready(port_)) return;
      if (process_->log().find("cannot listen") == std::string::npos) break;
    }
    ADD_FAILURE() << "kim did not become ready: " << process_->log();
  }

  ~Kim() {
    if (!process_ || process_->exited()) return;
    process_->send_signal(SIGTERM);
    const auto code = process_->wait_exit(std::chrono::seconds(30));
    if (code != 0) ADD_FAILURE() << "kim exited with " << code.value_or(-1) << ": " << log();
  }

  std::uint16_t port() const { return port_; }
  const std::string& admin() const { return admin_; }
  const std::string& case_manager() const { return case_manager_; }
  std::string log() const { return process_->log(); }
  pid_t pid() const { return process_->pid(); }
  std::string proc(const std::string& file) const {
    return read_file("/proc/" + std::to_string(pid()) + "/" + file);
  }
  // Resident memory in kB, from /proc/<pid>/status.
  long rss_kb() const {
    std::smatch match;
    const auto status = proc("status");
    return std::regex_search(status, match, std::regex(R"(VmRSS:\s*(\d+))"))
               ? std::stol(match[1].str())
               : -1;
  }
  // Polls GET /health on new connections until 200 or the deadline.
  bool health_answers(const char* source = "127.0.0.1",
                      std::chrono::seconds within = std::chrono::seconds(10)) const {
    const auto deadline = Clock::now() + within;
    while (Clock::now() < deadline) {
      Raw raw(port_, source, std::chrono::seconds(2));
      if (raw.exchange(get("/health")).status == 200) return true;
    }
    return false;
  }

 private:
  std::string config_path() const { return (dir_.path() / "kim.json").string(); }
  std::string create_token(std::vector<std::string> args) {
    args.insert(args.begin(), {"token", "create", "--config", config_path()});
    auto created = run_command(KIM_BINARY, args);
    EXPECT_EQ(created.exit_code, 0) << created.err;
    return created.out.substr(0, created.out.find('\n'));
  }

  TempDir dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<KimProcess> process_;
  std::string admin_, case_manager_;
};

// ---- one shared host for the request-level rules ----

class HttpHardeningTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { kim_ = new Kim(nlohmann::json::object()); }
  static void TearDownTestSuite() {
    delete kim_;
    kim_ = nullptr;
  }
  static Kim& kim() { return *kim_; }
  static int greetings_stored() {
    HttpClient client("127.0.0.1", kim().port());
    return client.get("/api/v1/plugins/hello/stats", kim().admin()).json()["greetings_stored"];
  }

 private:
  static Kim* kim_;
};
Kim* HttpHardeningTest::kim_ = nullptr;

TEST_F(HttpHardeningTest, TransferEncodingOtherThanChunkedIs400AndCloses) {
  for (const std::string coding : {"gzip", "chunked, gzip", "xchunked", "gzip, chunked"}) {
    SCOPED_TRACE(coding);
    Raw raw(kim().port());
    // If the body were taken as empty, the smuggled request after it would be answered too.
    raw.send(
        "POST /api/v1/plugins/hello/greetings HTTP/1.1\r\nHost: kim\r\nAuthorization: Bearer " +
        kim().admin() + "\r\nContent-Type: application/json\r\nTransfer-Encoding: " + coding +
        "\r\n\r\n" + get("/health"));
    auto first = raw.read_response();
    EXPECT_EQ(first.status, 400) << first.head;
    EXPECT_EQ(error_code(first), "bad_request");
    EXPECT_THAT(first.header("connection"), HasSubstr("close"));
    EXPECT_THAT(raw.read_to_end(), Not(HasSubstr("HTTP/1.1")));
  }
  // A correct chunked body still works (and Content-Length beside chunked does not).
  Raw raw(kim().port());
  const std::string body = R"({"to": "Emsdetten"})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  auto created = raw.exchange(
      "POST /api/v1/plugins/hello/greetings HTTP/1.1\r\nHost: kim\r\nAuthorization: Bearer " +
      kim().admin() + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
      size + "\r\n" + body + "\r\n0\r\n\r\n");
  EXPECT_EQ(created.status, 201) << created.head << created.body;
  Raw both(kim().port());
  auto refused = both.exchange(
      "POST /api/v1/plugins/hello/greetings HTTP/1.1\r\nHost: kim\r\nAuthorization: Bearer " +
      kim().admin() + "\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(greetings_stored(), 1);
}

TEST_F(HttpHardeningTest, FoldedHeaderLinesAre400) {
  Raw raw(kim().port());
  raw.send("GET /health HTTP/1.1\r\nHost: kim\r\nX-Note: one\r\n two\r\n\r\n" + get("/health"));
  auto response = raw.read_response();
  EXPECT_EQ(response.status, 400) << response.head;
  EXPECT_EQ(error_code(response), "bad_request");
  EXPECT_THAT(raw.read_to_end(), Not(HasSubstr("HTTP/1.1")));
  Raw tab(kim().port());
  EXPECT_EQ(
      tab.exchange("GET /health HTTP/1.1\r\nHost: kim\r\nX-Note: one\r\n\ttwo\r\n\r\n").status,
      400);
}

TEST_F(HttpHardeningTest, HeadIsGetWithoutBodyAndOptionsListsMethods) {
  Raw raw(kim().port());
  raw.send("HEAD /health HTTP/1.1\r\nHost: kim\r\n\r\n");
  auto head = raw.read_response(/*with_body=*/false);
  EXPECT_EQ(head.status, 200) << head.head;
  EXPECT_GT(std::atoi(head.header("content-length").c_str()), 0);
  // No body followed: the next answer on the connection starts right away.
  auto next = raw.exchange(get("/health"));
  EXPECT_EQ(next.status, 200) << next.head;
  EXPECT_EQ(nlohmann::json::parse(next.body)["status"], "ok");

  auto options = raw.exchange(
      "OPTIONS /api/v1/plugins/hello/greetings HTTP/1.1\r\nHost: "
      "kim\r\nAuthorization: Bearer " +
      kim().admin() + "\r\n\r\n");
  EXPECT_EQ(options.status, 204) << options.head;
  EXPECT_EQ(options.header("allow"), "POST, OPTIONS");
  auto options_get =
      raw.exchange("OPTIONS /api/v1/plugins HTTP/1.1\r\nHost: kim\r\nAuthorization: Bearer " +
                   kim().admin() + "\r\n\r\n");
  EXPECT_EQ(options_get.header("allow"), "GET, HEAD, OPTIONS");
  // Without a token, OPTIONS tells nothing about the paths either.
  auto anonymous = raw.exchange("OPTIONS /api/v1/plugins HTTP/1.1\r\nHost: kim\r\n\r\n");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(raw.exchange("OPTIONS /health HTTP/1.1\r\nHost: kim\r\n\r\n").header("allow"),
            "GET, HEAD, OPTIONS");
  // 405 names what is allowed; methods we do not implement at all are 501.
  auto wrong =
      raw.exchange("DELETE /api/v1/plugins HTTP/1.1\r\nHost: kim\r\nAuthorization: Bearer " +
                   kim().admin() + "\r\n\r\n");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("allow"), "GET");
  auto trace = raw.exchange("TRACE /health HTTP/1.1\r\nHost: kim\r\n\r\n");
  EXPECT_EQ(trace.status, 501);
  EXPECT_EQ(error_code(trace), "not_implemented");
}

TEST_F(HttpHardeningTest, InvalidUtf8IsRefusedCleanly) {
  struct Case {
    std::string request;
    int status;
    std::string code;
  };
  const auto& cm = kim().case_manager();
  const std::vector<Case> cases = {
      {get("/api/v1/cases/%FF", cm), 404, "not_found"},
      {get("/api/v1/cases/%C0%AF", cm), 404, "not_found"},       // overlong '/'
      {get("/api/v1/persons/%ED%A0%80", cm), 404, "not_found"},  // a surrogate
      {get("/api/v1/plugins/hello/greetings/%FF", kim().admin()), 404, "not_found"},
      {get("/api/v1/cases?%FF=1", cm), 400, "bad_query"},
      {get("/api/v1/cases?phase=%FF", cm), 400, "bad_query"},
      {get("/api/v1/plugins/hello/greetings/x?a=%FE", kim().admin()), 400, "bad_query"},
      {get("/api/v1/plugins", kim().admin(), "X-Note: \xff\xfe\r\n"), 400, "bad_header"},
      {get("/api/v1/cases/\xff", cm), 400, "bad_request"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.request);
    Raw raw(kim().port());
    auto response = raw.exchange(c.request);
    EXPECT_EQ(response.status, c.status) << response.head << response.body;
    EXPECT_EQ(error_code(response), c.code);
  }
  // Valid UTF-8 still reaches the handler.
  Raw raw(kim().port());
  auto greeting = raw.exchange(get("/api/v1/plugins/hello/greetings/M%C3%BCnster", kim().admin()));
  EXPECT_EQ(greeting.status, 200);
  EXPECT_THAT(greeting.body, HasSubstr("Münster"));
  EXPECT_THAT(kim().log(), Not(HasSubstr(" error ")));
  EXPECT_THAT(kim().log(), Not(HasSubstr("failed")));
}

TEST_F(HttpHardeningTest, EveryResponseSaysNosniff) {
  Raw raw(kim().port());
  EXPECT_EQ(raw.exchange(get("/health")).header("x-content-type-options"), "nosniff");
  EXPECT_EQ(raw.exchange(get("/api/v1/plugins")).header("x-content-type-options"), "nosniff");
  EXPECT_EQ(raw.exchange(get("/api/v1/nothing", kim().admin())).header("x-content-type-options"),
            "nosniff");
  auto malformed = raw.exchange("GET /health HTTP/1.1\r\nHost: kim\r\nX-Note: a\r\n b\r\n\r\n");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.header("x-content-type-options"), "nosniff");
}

TEST_F(HttpHardeningTest, MissingTokenGets401BeforeTheBodyIsRead) {
  const int stored = greetings_stored();
  Raw raw(kim().port());
  // Announces a body that never comes: the answer must not wait for it.
  raw.send(
      "POST /api/v1/plugins/hello/greetings HTTP/1.1\r\nHost: kim\r\nContent-Type: "
      "application/json\r\nContent-Length: 1000\r\n\r\n{\"to\":");
  auto response = raw.read_response();
  EXPECT_EQ(response.status, 401) << response.head;
  EXPECT_EQ(error_code(response), "unauthenticated");
  EXPECT_THAT(response.header("connection"), HasSubstr("close"));
  // Without a body the connection stays usable.
  Raw keep(kim().port());
  EXPECT_EQ(keep.exchange(get("/api/v1/plugins")).status, 401);
  EXPECT_EQ(keep.exchange(get("/health")).status, 200);
  EXPECT_EQ(greetings_stored(), stored);
}

// ---- connection and memory limits, each on a kim of its own ----

TEST(HttpMemoryTest, UnauthenticatedBodiesDoNotRaiseMemory) {
  Kim kim(nlohmann::json{{"max_connections_per_address", 0}});
  const long before = kim.rss_kb();
  ASSERT_GT(before, 0);
  constexpr int kConnections = 200;
  constexpr std::size_t kBody = 1024 * 1024;  // the body limit
  const std::string body(kBody - 1, 'x');     // the last byte never comes
  std::vector<std::unique_ptr<Raw>> connections;
  for (int i = 0; i < kConnections; ++i) {
    auto raw = std::make_unique<Raw>(kim.port(), "127.0.0.1", std::chrono::seconds(5));
    raw->send(
        "POST /api/v1/plugins/hello/greetings HTTP/1.1\r\nHost: kim\r\nContent-Type: "
        "application/json\r\nContent-Length: " +
        std::to_string(kBody) + "\r\n\r\n");
    raw->send(body);  // fails once kim closed the connection: fine
    connections.push_back(std::move(raw));
  }
  auto first = connections.front()->read_response();
  ASSERT_EQ(first.status, 401) << "kim waits for the body of an unauthenticated request";
  const long after = kim.rss_kb();
  // 200 bodies of 1 MiB held would be 200 MiB; what is left is the connections' own state.
  EXPECT_LT(after - before, 48 * 1024) << before << " kB before, " << after << " kB after";
  for (std::size_t i = 1; i < connections.size(); ++i) {
    auto response = connections[i]->read_response();
    EXPECT_EQ(response.status, 401) << "connection " << i;
  }
  connections.clear();
  EXPECT_TRUE(kim.health_answers());
}

TEST(HttpConnectionLimitTest, BeyondTheLimitOnlyHealthAndAdminsThenFast503) {
  const auto test_started = Clock::now();
  Kim kim(nlohmann::json{
      {"max_connections", 4}, {"reserved_connections", 2}, {"max_connections_per_address", 0}});
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<Raw>(kim.port()));
  }
  // Served in order: the 4 idle ones fill max_connections once one answer came after them.
  Raw admin(kim.port());
  EXPECT_EQ(admin.exchange(get("/api/v1/plugins", kim.admin())).status, 200);
  {
    Raw other(kim.port());
    auto busy = other.exchange(get("/api/v1/openapi.json"));
    EXPECT_EQ(busy.status, 503) << busy.head;
    EXPECT_EQ(error_code(busy), "server_busy");
    EXPECT_EQ(busy.header("x-content-type-options"), "nosniff");
  }
  // The reserve's second place, once the refused one left it.
  std::unique_ptr<Raw> health;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  Raw::Response answer;
  while (answer.status != 200 && Clock::now() < deadline) {
    health = std::make_unique<Raw>(kim.port());
    answer = health->exchange(get("/health"));
  }
  EXPECT_EQ(answer.status, 200);
  // Everything taken: the next connection gets 503 at once, without sending anything (the
  // answer cannot wait for a request that never comes).
  Raw refused(kim.port());
  auto fast = refused.read_response();
  EXPECT_EQ(fast.status, 503) << fast.head;
  EXPECT_EQ(fast.header("retry-after"), "1");
  EXPECT_EQ(fast.header("x-content-type-options"), "nosniff");
  idle.clear();
  EXPECT_TRUE(kim.health_answers());
  // One warning per 10 s at most, however many refusals (a loaded machine may take longer here).
  const auto tens =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - test_started) / 10;
  EXPECT_LE(count_of(kim.log(), "refusing connections"),
            static_cast<std::size_t>(tens.count()) + 2);
}

TEST(HttpConnectionLimitTest, PerAddressLimitAndSignInThrottle) {
  Kim kim(nlohmann::json{{"max_connections_per_address", 3},
                         {"auth_failures_per_address", 3},
                         {"auth_failure_window_seconds", 600}});
  {
    // From an address nothing else uses: the fixture's own probes come from 127.0.0.1, and a
    // probe the client closed may still count until the server has read its end.
    std::vector<std::unique_ptr<Raw>> held;
    for (int i = 0; i < 3; ++i) {
      held.push_back(std::make_unique<Raw>(kim.port(), "127.0.0.5"));
      EXPECT_EQ(held.back()->exchange(get("/health")).status, 200);
    }
    Raw fourth(kim.port(), "127.0.0.5");
    auto refused = fourth.read_response();
    EXPECT_EQ(refused.status, 503) << refused.head;
    // Another address is not affected.
    EXPECT_TRUE(kim.health_answers("127.0.0.2"));
  }
  ASSERT_TRUE(kim.health_answers());

  const std::string wrong = "kim_" + std::string(64, '0');
  Raw guesser(kim.port(), "127.0.0.3");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(guesser.exchange(get("/api/v1/plugins", wrong)).status, 401);
  }
  auto throttled = guesser.exchange(get("/api/v1/plugins", wrong));
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(error_code(throttled), "too_many_failed_sign_ins");
  EXPECT_GT(std::atoi(throttled.header("retry-after").c_str()), 0);
  // A throttled address learns nothing about its guesses, not even with a valid token...
  EXPECT_EQ(guesser.exchange(get("/api/v1/plugins", kim.admin())).status, 429);
  // ...but still reaches /health; other addresses sign in at once.
  EXPECT_EQ(guesser.exchange(get("/health")).status, 200);
  Raw other(kim.port(), "127.0.0.4");
  EXPECT_EQ(other.exchange(get("/api/v1/plugins", kim.admin())).status, 200);
  EXPECT_EQ(other.exchange(get("/api/v1/plugins", wrong)).status, 401);
  EXPECT_THAT(kim.log(), Not(HasSubstr(wrong)));
}

// ---- file descriptors ----

TEST(HttpDescriptorTest, RaisesTheSoftLimitAndSizesConnectionsToIt) {
  // Soft 128, hard 256: kim raises the soft limit and keeps its connections below it, so a flood
  // gets fast 503s (and its own address's limit) instead of "Too many open files".
  Kim kim(nlohmann::json{{"max_connections_per_address", 100}}, {"--nofile=128:256"});
  EXPECT_THAT(kim.proc("limits"), testing::ContainsRegex("Max open files +256 +256"));
  std::vector<std::unique_ptr<Raw>> flood;
  for (int i = 0; i < 300; ++i) {
    flood.push_back(std::make_unique<Raw>(kim.port(), "127.0.0.1", std::chrono::seconds(2)));
  }
  EXPECT_TRUE(kim.health_answers("127.0.0.2"));
  flood.clear();
  EXPECT_TRUE(kim.health_answers());
  EXPECT_EQ(count_of(kim.log(), "accept failed"), 0u);
}

TEST(HttpDescriptorTest, AcceptErrorsBackOffAndLogRarely) {
  // Connections allowed beyond the descriptors there are: accept itself fails.
  Kim kim(nlohmann::json{{"max_connections", 2000}, {"max_connections_per_address", 0}},
          {"--nofile=128:128"});
  std::vector<std::unique_ptr<Raw>> flood;
  for (int i = 0; i < 250; ++i) {
    flood.push_back(std::make_unique<Raw>(kim.port(), "127.0.0.1", std::chrono::seconds(2)));
  }
  // While the descriptors are gone, /health cannot be answered; this waits 2 s for it.
  Raw waiting(kim.port(), "127.0.0.1", std::chrono::seconds(2));
  waiting.exchange(get("/health"));
  const auto lines = count_of(kim.log(), "accept failed");
  EXPECT_GE(lines, 1u);
  EXPECT_LE(lines, 2u);
  flood.clear();
  EXPECT_TRUE(kim.health_answers());
}

}  // namespace
}  // namespace kim::test
