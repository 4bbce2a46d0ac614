// HTTP load against a real `kim serve` on loopback: many keep-alive connections create persons and
// cases (durable writes, group commit), read cases (each read is audited: a durable write too),
// page through the case list and hand every case over to a partner (a consent, then a referral
// sent at once). Prints requests/s and latency percentiles per phase beside the serial durable
// commits/s of raw SQLite measured on the same disk in the same run.
//
//   kim_http_load [--kim PATH] [--connections N] [--persons N] [--reads-per-case N]
//                 [--synchronous FULL|NORMAL] [--baseline-rows N] [--time-limit SECONDS]
//                 [--no-referrals] [--keep DIR]
//
// Sets itself up in a temporary folder (or DIR with --keep, which is then left in place): a config
// with one coordinating office and one welfare organisation with team access, and two partners (a
// jobcenter and a coordinating office); a case manager token from `kim token create`, `kim serve`
// as a child process on a free 127.0.0.1 port, and (unless --no-referrals) a coordinator token
// that records one signed cooperation agreement between the two partners. Exit status 0 only if
// every request succeeded, the database holds what was written and kim exited with 0.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "baseline.hpp"
#include "support/partner_server.hpp"

#ifndef KIM_BINARY_PATH
#define KIM_BINARY_PATH "kim"
#endif

namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kRequestTimeout = std::chrono::seconds(30);
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopTimeout = std::chrono::seconds(60);
constexpr int kPageSize = 50;

// The hand-over of the referral phase: to this partner, for this service (agreed with the other).
constexpr const char* kPartner = "bench-jobcenter";
// Coordinating offices carry the same slug as partner and as organisation.
constexpr const char* kCoordinatingPartner = "ki-bench";
constexpr const char* kService = "sgb2_integration_services";

struct Args {
  std::string kim = KIM_BINARY_PATH;
  int connections = 64;
  int persons = 2000;
  int reads_per_case = 4;
  std::string synchronous = "FULL";
  int baseline_rows = 500;
  int time_limit_seconds = 600;  // per phase
  bool referrals = true;
  // The referral phase right after the creates, so that reads and lists run while the outbox
  // delivers its messages (with --outbox); without --outbox the same order is the A/B baseline.
  bool referrals_first = false;
  // Bind the jobcenter to an "http" connector instance pointing at a partner in this process.
  bool outbox = false;
  std::optional<fs::path> keep;
};

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--kim") {
      args.kim = value();
    } else if (arg == "--connections") {
      args.connections = std::stoi(value());
    } else if (arg == "--persons") {
      args.persons = std::stoi(value());
    } else if (arg == "--reads-per-case") {
      args.reads_per_case = std::stoi(value());
    } else if (arg == "--synchronous") {
      args.synchronous = value();
    } else if (arg == "--baseline-rows") {
      args.baseline_rows = std::stoi(value());
    } else if (arg == "--time-limit") {
      args.time_limit_seconds = std::stoi(value());
    } else if (arg == "--no-referrals") {
      args.referrals = false;
    } else if (arg == "--referrals-first") {
      args.referrals_first = true;
    } else if (arg == "--outbox") {
      args.outbox = true;
    } else if (arg == "--keep") {
      args.keep = fs::path(value());
    } else {
      throw std::invalid_argument(
          "unknown argument " + std::string(arg) +
          " (use --kim PATH --connections N --persons N --reads-per-case N "
          "--synchronous FULL|NORMAL --baseline-rows N --time-limit SECONDS --no-referrals "
          "--referrals-first --outbox --keep DIR)");
    }
  }
  if (args.outbox) args.referrals_first = true;  // deliveries overlap the reads
  if (args.connections < 1 || args.connections > 1000) {
    throw std::invalid_argument("--connections must be 1 to 1000");
  }
  if (args.persons < 1 || args.persons > 1000000) {
    throw std::invalid_argument("--persons must be 1 to 1000000");
  }
  if (args.reads_per_case < 0 || args.reads_per_case > 1000) {
    throw std::invalid_argument("--reads-per-case must be 0 to 1000");
  }
  if (args.synchronous != "FULL" && args.synchronous != "NORMAL") {
    throw std::invalid_argument("--synchronous must be FULL or NORMAL");
  }
  if (args.baseline_rows < 1 || args.time_limit_seconds < 1) {
    throw std::invalid_argument("--baseline-rows and --time-limit must be >= 1");
  }
  return args;
}

// ---- child processes --------------------------------------------------------------------------

pid_t spawn(const std::string& binary, const std::vector<std::string>& args, const fs::path& out,
            const fs::path& err) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& arg : args)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out_fd < 0 || err_fd < 0) throw std::runtime_error("cannot open " + out.string());
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Exit code, or nothing if pid still runs after `timeout`.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return decode_status(status);
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `kim serve`, killed if still running when this goes out of scope (e.g. after an exception).
class KimServer {
 public:
  KimServer(const std::string& binary, const fs::path& config, const fs::path& log)
      : pid_(spawn(binary, {"serve", "--config", config.string()}, log, log)) {}
  ~KimServer() {
    if (!exit_code_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  KimServer(const KimServer&) = delete;
  KimServer& operator=(const KimServer&) = delete;

  bool exited() {
    if (!exit_code_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) exit_code_ = decode_status(status);
    }
    return exit_code_.has_value();
  }
  // SIGTERM, then the exit code (nothing if it did not stop within kStopTimeout).
  std::optional<int> stop() {
    if (exit_code_) return exit_code_;
    ::kill(pid_, SIGTERM);
    exit_code_ = wait_exit(pid_, kStopTimeout);
    return exit_code_;
  }

 private:
  pid_t pid_;
  std::optional<int> exit_code_;
};

// ---- HTTP -------------------------------------------------------------------------------------

struct Reply {
  int status = 0;  // 0: transport error
  std::string body;
  double ms = 0;
};

bool ok(const Reply& reply) {
  return reply.status >= 200 && reply.status < 300;
}

// One keep-alive connection, driven by coroutines on the shared io_context.
class Connection {
 public:
  Connection(net::io_context& ioc, tcp::endpoint endpoint, std::string token)
      : stream_(ioc), endpoint_(endpoint), authorization_("Bearer " + std::move(token)) {}

  net::awaitable<Reply> send(bhttp::verb verb, std::string target, std::string body) {
    constexpr auto tuple = net::as_tuple(net::use_awaitable);
    Reply reply;
    const auto start = Clock::now();
    stream_.expires_after(kRequestTimeout);
    if (!connected_) {
      auto [ec] = co_await stream_.async_connect(endpoint_, tuple);
      if (ec) co_return fail(reply, "connect", ec);
      buffer_.clear();
      connected_ = true;
    }
    bhttp::request<bhttp::string_body> request{verb, target, 11};
    request.set(bhttp::field::host, "127.0.0.1");
    request.set(bhttp::field::authorization, authorization_);
    if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
    request.body() = std::move(body);
    request.keep_alive(true);
    request.prepare_payload();
    auto [write_ec, written] = co_await bhttp::async_write(stream_, request, tuple);
    if (write_ec) co_return fail(reply, "write", write_ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    auto [read_ec, read] = co_await bhttp::async_read(stream_, buffer_, parser, tuple);
    if (read_ec) co_return fail(reply, "read", read_ec);
    reply.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    reply.status = static_cast<int>(parser.get().result_int());
    reply.body = std::move(parser.get().body());
    if (!parser.get().keep_alive()) close();
    co_return reply;
  }

 private:
  Reply fail(Reply& reply, const char* what, beast::error_code ec) {
    close();
    reply.body = std::string(what) + ": " + ec.message();
    return reply;
  }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    connected_ = false;
  }

  beast::tcp_stream stream_;
  tcp::endpoint endpoint_;
  std::string authorization_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

// One blocking request on a connection of its own (setup only, not measured).
Reply request_once(std::uint16_t port, const std::string& token, bhttp::verb verb,
                   const std::string& target, const std::string& body) {
  Reply reply;
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(kRequestTimeout);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    bhttp::request<bhttp::string_body> request{verb, target, 11};
    request.set(bhttp::field::host, "127.0.0.1");
    request.set(bhttp::field::authorization, "Bearer " + token);
    if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    bhttp::write(stream, request);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> response;
    bhttp::read(stream, buffer, response);
    reply.status = static_cast<int>(response.result_int());
    reply.body = std::move(response.body());
  } catch (const std::exception& e) {
    reply.body = e.what();
  }
  return reply;
}

// Blocking GET /health; true on 200.
bool healthy(std::uint16_t port) {
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    bhttp::request<bhttp::empty_body> request{bhttp::verb::get, "/health", 11};
    request.set(bhttp::field::host, "127.0.0.1");
    bhttp::write(stream, request);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> response;
    bhttp::read(stream, buffer, response);
    return response.result_int() == 200;
  } catch (const std::exception&) {
    return false;  // not listening yet
  }
}

std::uint16_t free_port() {
  net::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// ---- phases -----------------------------------------------------------------------------------

struct Phase {
  std::string name;
  std::vector<double> latencies_ms;
  int errors = 0;
  std::string first_error;
  double seconds = 0;
  bool timed_out = false;
  Clock::time_point deadline;

  // Records one reply; false if it is an error (non-2xx, or not `expected` when given, or a
  // transport failure).
  bool record(const Reply& reply, const char* what, int expected = 0) {
    if (expected ? reply.status == expected : ok(reply)) {
      latencies_ms.push_back(reply.ms);
      return true;
    }
    error(std::string(what) + ": " + std::to_string(reply.status) + " " +
          reply.body.substr(0, 300));
    return false;
  }
  void error(std::string message) {
    if (errors++ == 0) first_error = std::move(message);
  }
  // False once the time limit has passed: workers then take no more work.
  bool in_time() {
    if (Clock::now() < deadline) return true;
    timed_out = true;
    return false;
  }
};

struct Work {
  int persons = 0;
  int reads_per_case = 0;
  int next = 0;  // next item to hand out; the io_context is single-threaded
  std::vector<std::string> person_ids, case_ids;
  std::int64_t consents = 0, referrals = 0;  // acknowledged with 201
};

json person_body(int i) {
  // Distinct names: the duplicate check (same name key and date of birth) must not fire.
  return {{"given_names", "Amina" + std::to_string(i)},
          {"family_name", "Haddad"},
          {"date_of_birth", std::to_string(1960 + i % 45) + "-0" + std::to_string(1 + i % 9) + "-" +
                                std::to_string(10 + i % 18)},
          {"nationalities", {"SY"}},
          {"languages", {"ar", "de"}},
          {"town", "Rheine"},
          {"residence_status", "residence_permit"},
          {"arrival_date", "2023-09-01"}};
}

// Outside the coroutine: a braced json literal inside one trips GCC 12 ("array used as
// initializer").
std::string case_body(const json& person_id) {
  return json{{"person_id", person_id}}.dump();
}

// Phase 1: a person, then a case for it, per participant.
net::awaitable<void> create_worker(Connection& c, Work& work, Phase& phase) {
  while (work.next < work.persons && phase.in_time()) {
    const int i = work.next++;
    const std::string persons = "/api/v1/persons";
    const std::string cases = "/api/v1/cases";
    auto person = co_await c.send(bhttp::verb::post, persons, person_body(i).dump());
    if (!phase.record(person, "POST /api/v1/persons")) continue;
    const json person_id = json::parse(person.body).at("id");
    auto opened = co_await c.send(bhttp::verb::post, cases, case_body(person_id));
    if (!phase.record(opened, "POST /api/v1/cases")) continue;
    work.person_ids[static_cast<std::size_t>(i)] = person_id.get<std::string>();
    work.case_ids[static_cast<std::size_t>(i)] =
        json::parse(opened.body).at("id").get<std::string>();
  }
}

// Phase 2: reads_per_case reads of every case, round robin so concurrent reads hit other cases.
net::awaitable<void> read_worker(Connection& c, Work& work, const std::vector<std::string>& ids,
                                 Phase& phase) {
  const int total = static_cast<int>(ids.size()) * work.reads_per_case;
  while (work.next < total && phase.in_time()) {
    const auto& id = ids[static_cast<std::size_t>(work.next++) % ids.size()];
    const std::string target = "/api/v1/cases/" + id;
    auto reply = co_await c.send(bhttp::verb::get, target, {});
    if (!phase.record(reply, "GET /api/v1/cases/{id}")) continue;
    if (json::parse(reply.body).at("id") != id) phase.error("GET /api/v1/cases/{id}: other case");
  }
}

// Phase 3: one complete walk through the case list per connection, following next_cursor.
net::awaitable<void> list_worker(Connection& c, std::size_t expected, Phase& phase) {
  std::size_t seen = 0;
  std::string cursor;
  const std::size_t max_pages = expected / kPageSize + 2;
  for (std::size_t page = 0; page < max_pages && phase.in_time(); ++page) {
    std::string target = "/api/v1/cases?limit=" + std::to_string(kPageSize);
    if (!cursor.empty()) target += "&cursor=" + cursor;
    auto reply = co_await c.send(bhttp::verb::get, target, {});
    if (!phase.record(reply, "GET /api/v1/cases")) co_return;
    const json body = json::parse(reply.body);
    seen += body.at("items").size();
    if (!body.contains("next_cursor")) {
      if (seen != expected) {
        phase.error("list walk saw " + std::to_string(seen) + " cases, expected " +
                    std::to_string(expected));
      }
      co_return;
    }
    cursor = body["next_cursor"].get<std::string>();
  }
  if (!phase.timed_out)
    phase.error("list walk did not end within " + std::to_string(max_pages) + " pages");
}

// The same for every participant: consent of the person to pass identity and language level to
// the jobcenter for a referral, and the referral that uses it, sent at once.
std::string consent_body(const std::string& given_on) {
  return json{{"recipients", {kPartner}},
              {"purposes", {"referral"}},
              {"categories", {"identity", "language_level"}},
              {"form", "written"},
              {"given_on", given_on}}
      .dump();
}

std::string referral_body() {
  return json{{"partner", kPartner},
              {"service", kService},
              {"purpose", "referral"},
              {"categories", {"identity", "language_level"}},
              {"send", true}}
      .dump();
}

// Phase 4: per case a consent of its person, then a referral sent to the partner; both 201.
net::awaitable<void> referral_worker(Connection& c, Work& work,
                                     const std::vector<std::string>& person_ids,
                                     const std::vector<std::string>& case_ids,
                                     const std::string& consent, const std::string& referral,
                                     Phase& phase) {
  while (work.next < static_cast<int>(case_ids.size()) && phase.in_time()) {
    const auto i = static_cast<std::size_t>(work.next++);
    const std::string consents = "/api/v1/persons/" + person_ids[i] + "/consents";
    const std::string referrals = "/api/v1/cases/" + case_ids[i] + "/referrals";
    auto granted = co_await c.send(bhttp::verb::post, consents, consent);
    if (!phase.record(granted, "POST /api/v1/persons/{id}/consents", 201)) continue;
    ++work.consents;
    auto sent = co_await c.send(bhttp::verb::post, referrals, referral);
    if (!phase.record(sent, "POST /api/v1/cases/{id}/referrals", 201)) continue;
    ++work.referrals;
    if (json::parse(sent.body).at("status") != "sent") {
      phase.error("POST /api/v1/cases/{id}/referrals: not sent: " + sent.body.substr(0, 300));
    }
  }
}

template <class Spawn>
Phase run_phase(std::string name, net::io_context& ioc, int time_limit_seconds, Spawn spawn) {
  Phase phase;
  phase.name = std::move(name);
  const auto start = Clock::now();
  phase.deadline = start + std::chrono::seconds(time_limit_seconds);
  spawn(phase);
  ioc.restart();
  ioc.run();
  phase.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (phase.timed_out) phase.error("time limit of " + std::to_string(time_limit_seconds) + "s");
  return phase;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void print_phase(Phase& phase) {
  auto& l = phase.latencies_ms;
  std::sort(l.begin(), l.end());
  const auto requests = l.size() + static_cast<std::size_t>(phase.errors);
  std::printf("%-34s %8zu %8.2f %9.1f %8.2f %8.2f %8.2f %8.2f %6d\n", phase.name.c_str(), requests,
              phase.seconds, static_cast<double>(requests) / phase.seconds, percentile(l, 50),
              percentile(l, 95), percentile(l, 99), l.empty() ? 0.0 : l.back(), phase.errors);
}

double rate(const Phase& phase) {
  return static_cast<double>(phase.latencies_ms.size()) / phase.seconds;
}

double cpu_seconds(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// ---- setup ------------------------------------------------------------------------------------

void write_config(const fs::path& path, std::uint16_t port, const std::string& synchronous,
                  const std::string& partner_url) {
  json config = {{"deployment", {{"name", "KIM http load benchmark"}}},
                 {"data_dir", "data"},
                 {"server", {{"listen", "127.0.0.1:" + std::to_string(port)}}},
                 {"database", {{"synchronous", synchronous}}},
                 {"organisations",
                  {{{"slug", "ki-bench"},
                    {"name", "Kommunales Integrationszentrum (bench)"},
                    {"kind", "coordinating_office"},
                    {"town", "Steinfurt"}},
                   {{"slug", "welfare-bench"},
                    {"name", "Wohlfahrtsverband (bench)"},
                    {"kind", "welfare_organisation"},
                    {"town", "Rheine"},
                    {"supervisor", "ki-bench"},
                    {"team_access", true}}}},
                 {"partners",
                  {{{"slug", kPartner},
                    {"name", "Jobcenter (bench)"},
                    {"kind", "jobcenter"},
                    {"legal_domain", "sgb2"},
                    {"county_wide", true},
                    {"services", {kService}}},
                   {{"slug", kCoordinatingPartner},
                    {"name", "Kommunales Integrationszentrum (bench partner)"},
                    {"kind", "coordinating_office"},
                    {"county_wide", true},
                    {"services", {"integration_agency"}}}}}};
  if (!partner_url.empty()) {
    config["connectors"] = {{"bench", {{"type", "http"}, {"settings", {{"url", partner_url}}}}}};
    config["partners"][0]["connector"] = "bench";
  }
  std::ofstream(path) << config.dump(2);
}

// Today in the local time zone, as kim dates consents and agreements (it inherits our TZ).
std::string today_local() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d", &local);
  return buffer;
}

// A signed agreement between the two partners that lets identity, contact and language level go
// to the jobcenter for referrals; it covers the service of the referral phase.
std::string agreement_body(const std::string& today) {
  return json{{"title", "Kooperationsvereinbarung (bench)"},
              {"parties",
               {{{"partner", kCoordinatingPartner},
                 {"tasks", "Case management across legal domains"},
                 {"responsibility_ends", "when the jobcenter's case management takes over"}},
                {{"partner", kPartner},
                 {"tasks", "SGB II integration services"},
                 {"responsibility_ends", "at the end of benefit entitlement"}}}},
              {"handover_rule", "Joint first meeting within 14 days of the referral"},
              {"services", {kService}},
              {"valid_from", today},
              {"status", "signed"},
              {"data_terms",
               {{{"partner", kPartner},
                 {"categories", {"identity", "contact", "language_level"}},
                 {"purposes", {"referral"}}}}}}
      .dump();
}

std::string create_token(const Args& args, const fs::path& dir, const fs::path& config,
                         const std::string& user, const std::string& role, const std::string& org) {
  const fs::path out = dir / "token.out";
  const fs::path err = dir / "token.err";
  pid_t pid = spawn(args.kim,
                    {"token", "create", "--config", config.string(), "--user", user, "--role", role,
                     "--org", org, "--label", "http load benchmark"},
                    out, err);
  auto code = wait_exit(pid, std::chrono::seconds(60));
  if (!code) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  std::string token = read_text(out);
  token = token.substr(0, token.find('\n'));
  fs::remove(out);
  if (code != 0 || token.empty()) {
    throw std::runtime_error("kim token create failed (" + args.kim + ", exit " +
                             (code ? std::to_string(*code) : std::string("timeout")) +
                             "; 127: cannot run it): " + read_text(err));
  }
  fs::remove(err);
  return token;
}

struct Counts {
  std::int64_t persons, cases, audit, consents, referrals;
};

Counts count_rows(const fs::path& db_path) {
  auto db = kim::store::Connection::open(db_path, SQLITE_OPEN_READONLY);
  auto count = [&](const char* table) {
    return db.query(std::string("SELECT count(*) AS n FROM ") + table)[0]["n"].get<std::int64_t>();
  };
  return {count("persons"), count("cases"), count("audit_log"), count("consents"),
          count("referrals")};
}

int run(const Args& args) {
  const bool keep = args.keep.has_value();
  const fs::path dir =
      keep ? *args.keep
           : fs::temp_directory_path() / ("kim_http_load_" + std::to_string(::getpid()));
  if (fs::exists(dir) && !fs::is_empty(dir)) {
    throw std::runtime_error(dir.string() + " exists and is not empty");
  }
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    bool keep;
    ~Cleanup() {
      std::error_code ignored;
      if (!keep) fs::remove_all(dir, ignored);
    }
  } cleanup{dir, keep};

  std::printf("kim http load: %d connections, %d persons, %d reads per case, synchronous=%s%s\n",
              args.connections, args.persons, args.reads_per_case, args.synchronous.c_str(),
              args.referrals ? "" : ", no referrals");
  std::printf("folder: %s%s\n", dir.c_str(), keep ? " (kept)" : " (removed afterwards)");
  // Other load on the machine skews every figure: show it.
  std::printf("cpus: %u, load average: %s", std::thread::hardware_concurrency(),
              read_text("/proc/loadavg").c_str());
  std::fflush(stdout);

  // Baseline first, on the same file system, while nothing else runs.
  const double baseline =
      kim::bench::plain_rows_per_second(dir / "baseline.db", "WAL", args.baseline_rows);
  std::printf(
      "baseline: raw sqlite3, WAL, synchronous=FULL, serial autocommit: %.0f commits/s "
      "(%d rows)\n\n",
      baseline, args.baseline_rows);
  std::fflush(stdout);

  const std::uint16_t port = free_port();
  const fs::path config = dir / "kim.json";
  // A partner that takes the outbox's messages (tests/support/partner_server.hpp: applies each
  // idempotency key once, answers 200 at once).
  std::unique_ptr<kim::test::PartnerServer> partner;
  if (args.outbox) partner = std::make_unique<kim::test::PartnerServer>();
  write_config(config, port, args.synchronous, partner ? partner->url() : std::string());
  const std::string token =
      create_token(args, dir, config, "bench-cm", "case_manager", "welfare-bench");
  // The coordinator records the agreement once kim runs; created before so that kim token create
  // and kim serve never open the database at the same time.
  const std::string coordinator_token =
      args.referrals
          ? create_token(args, dir, config, "bench-coordinator", "coordinator", "ki-bench")
          : std::string();
  KimServer server(args.kim, config, dir / "kim.log");
  const auto ready_by = Clock::now() + kStartTimeout;
  while (!healthy(port)) {
    if (server.exited() || Clock::now() >= ready_by) {
      throw std::runtime_error("kim did not become ready; log:\n" + read_text(dir / "kim.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }

  const std::string today = today_local();
  if (args.referrals) {
    auto agreement = request_once(port, coordinator_token, bhttp::verb::post, "/api/v1/agreements",
                                  agreement_body(today));
    if (agreement.status != 201) {
      throw std::runtime_error("POST /api/v1/agreements: " + std::to_string(agreement.status) +
                               " " + agreement.body.substr(0, 500));
    }
  }

  // What setup audited (token issues, the agreement, the start's supervision run) is not measured.
  const std::int64_t audit_at_start = count_rows(dir / "data" / "kim.sqlite3").audit;

  net::io_context ioc(1);
  const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < args.connections; ++i) {
    connections.push_back(std::make_unique<Connection>(ioc, endpoint, token));
  }

  Work work;
  work.persons = args.persons;
  work.reads_per_case = args.reads_per_case;
  work.person_ids.resize(static_cast<std::size_t>(args.persons));
  work.case_ids.resize(static_cast<std::size_t>(args.persons));
  std::vector<Phase> phases;

  phases.push_back(run_phase("create (POST persons + POST cases)", ioc, args.time_limit_seconds,
                             [&](Phase& phase) {
                               for (auto& c : connections) {
                                 net::co_spawn(ioc, create_worker(*c, work, phase), net::detached);
                               }
                             }));
  // The cases created (and their persons), in the same order.
  std::vector<std::string> ids, person_ids;
  for (std::size_t i = 0; i < work.case_ids.size(); ++i) {
    if (work.case_ids[i].empty()) continue;
    ids.push_back(work.case_ids[i]);
    person_ids.push_back(work.person_ids[i]);
  }
  const std::string consent = consent_body(today);
  const std::string referral = referral_body();
  auto referral_phase = [&] {
    if (!args.referrals || ids.empty()) return;
    work.next = 0;
    phases.push_back(run_phase(
        "consent + referral (POST both)", ioc, args.time_limit_seconds, [&](Phase& phase) {
          for (auto& c : connections) {
            net::co_spawn(ioc, referral_worker(*c, work, person_ids, ids, consent, referral, phase),
                          net::detached);
          }
        }));
  };
  const auto referrals_started = Clock::now();
  if (args.referrals_first) referral_phase();
  const bool reads = !ids.empty() && args.reads_per_case > 0;
  if (reads) {
    work.next = 0;
    phases.push_back(
        run_phase("read (GET case, audited)", ioc, args.time_limit_seconds, [&](Phase& phase) {
          for (auto& c : connections) {
            net::co_spawn(ioc, read_worker(*c, work, ids, phase), net::detached);
          }
        }));
  }
  phases.push_back(run_phase(
      "list (GET cases?limit=50, audited)", ioc, args.time_limit_seconds, [&](Phase& phase) {
        for (auto& c : connections) {
          net::co_spawn(ioc, list_worker(*c, ids.size(), phase), net::detached);
        }
      }));
  // Last, so that reads and lists see the same cases with or without it.
  if (!args.referrals_first) referral_phase();
  connections.clear();

  std::printf("%-34s %8s %8s %9s %8s %8s %8s %8s %6s\n", "phase", "requests", "seconds", "req/s",
              "p50 ms", "p95 ms", "p99 ms", "max ms", "errors");
  int errors = 0;
  for (auto& phase : phases) {
    print_phase(phase);
    errors += phase.errors;
  }
  const double creates = rate(phases.front());
  const bool durable = args.synchronous == "FULL";
  std::printf("\n%s creates/s %.1f / baseline commits/s %.1f = group commit factor %.1fx%s\n",
              durable ? "durable" : "NOT durable", creates, baseline, creates / baseline,
              durable ? "" : " (kim ran with synchronous=NORMAL)");
  std::printf(
      "each create, each case read (1 audit row), each list page (50 audit rows), each consent "
      "and each referral is one durable write job; reads answer only after their audit rows "
      "committed\n");
  for (const auto& phase : phases) {
    if (phase.errors)
      std::printf("%s: first error: %s\n", phase.name.c_str(), phase.first_error.c_str());
  }

  if (partner) {
    // Every referral sent is one message; wait for the last one, then the rate from the first
    // referral's request to the last delivery.
    const auto expected = static_cast<std::size_t>(work.referrals);
    const bool all = partner->wait_for([&] { return partner->applied().size() >= expected; },
                                       std::chrono::seconds(args.time_limit_seconds));
    const auto received = partner->received();
    if (!received.empty() && all) {
      const double seconds =
          std::chrono::duration<double>(received.back().at - referrals_started).count();
      std::printf(
          "outbox: %zu messages delivered to the local partner in %.2f s after the first "
          "referral = %.0f messages/s (%d repeats)\n",
          partner->applied().size(), seconds,
          static_cast<double>(partner->applied().size()) / seconds, partner->repeats());
    } else {
      std::printf("outbox: only %zu of %zu messages delivered\n", partner->applied().size(),
                  expected);
      errors += 1;
    }
  }
  const auto exit_code = server.stop();
  std::printf("kim exit code after SIGTERM: %s\n",
              exit_code ? std::to_string(*exit_code).c_str() : "none (killed)");
  bool good = errors == 0 && exit_code == 0;
  // On a machine of few CPUs the driver competes with kim: show who used how much.
  std::printf("cpu seconds: driver %.1f, kim (and kim token create) %.1f\n",
              cpu_seconds(RUSAGE_SELF), cpu_seconds(RUSAGE_CHILDREN));

  // Everything acknowledged must be in the database after a clean stop.
  const auto rows = count_rows(dir / "data" / "kim.sqlite3");
  const auto n = static_cast<std::int64_t>(ids.size());
  // One audit row per create, case read, consent and referral; 50 per list page (n per walk);
  // besides those of the setup.
  const std::int64_t audit_expected = audit_at_start + 2 * n +
                                      (reads ? n * args.reads_per_case : 0) + n * args.connections +
                                      work.consents + work.referrals;
  std::printf(
      "database: %lld persons, %lld cases, %lld consents, %lld referrals, %lld audit rows "
      "(expected %lld, %lld, %lld, %lld, %lld)\n",
      static_cast<long long>(rows.persons), static_cast<long long>(rows.cases),
      static_cast<long long>(rows.consents), static_cast<long long>(rows.referrals),
      static_cast<long long>(rows.audit), static_cast<long long>(n), static_cast<long long>(n),
      static_cast<long long>(work.consents), static_cast<long long>(work.referrals),
      static_cast<long long>(audit_expected));
  if (errors == 0 && (rows.persons != n || rows.cases != n || rows.consents != work.consents ||
                      rows.referrals != work.referrals || rows.audit != audit_expected)) {
    std::printf("database counts differ from what was acknowledged\n");
    good = false;
  }
  std::printf("%s\n", good ? "OK" : "FAILED");
  return good ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    ::signal(SIGPIPE, SIG_IGN);
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kim_http_load: %s\n", e.what());
    return 1;
  }
}
