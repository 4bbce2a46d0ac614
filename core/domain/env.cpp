#include "domain/env.hpp"

#include <cstdio>
#include <ctime>
#include <stdexcept>

#include <openssl/rand.h>

#include "domain/validation.hpp"
#include "text/ascii.hpp"

namespace kim::domain {

namespace {

class SystemEnv : public Env {
 public:
  std::chrono::system_clock::time_point now() override { return std::chrono::system_clock::now(); }
  void random_bytes(unsigned char* out, std::size_t size) override {
    if (RAND_bytes(out, static_cast<int>(size)) != 1) {
      throw std::runtime_error("the system's secure random generator failed");
    }
  }
};

}  // namespace

Env& Env::system() {
  static SystemEnv env;
  return env;
}

std::string Env::today() {
  auto seconds = std::chrono::system_clock::to_time_t(now());
  std::tm local{};
  localtime_r(&seconds, &local);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d", &local);
  return buffer;
}

std::string Env::format_timestamp(std::chrono::system_clock::time_point at) {
  auto seconds = std::chrono::system_clock::to_time_t(at);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  char result[48];
  std::snprintf(result, sizeof result, "%s.%03dZ", buffer, static_cast<int>(millis));
  return result;
}

std::string Env::new_id(const char* prefix) {
  unsigned char bytes[16];
  {
    std::lock_guard lock(id_mutex_);
    if (ids_left_in_run_ == 0) {
      // A run always moves on, so a run's ids are exactly the kIdsPerRun made one after another.
      unsigned char next[2];
      random_bytes(next, sizeof next);
      if (next[0] == id_run_[0] && next[1] == id_run_[1]) next[1] ^= 1;
      id_run_[0] = next[0];
      id_run_[1] = next[1];
      ids_left_in_run_ = kIdsPerRun;
    }
    --ids_left_in_run_;
    bytes[0] = id_run_[0];
    bytes[1] = id_run_[1];
  }
  random_bytes(bytes + 2, sizeof bytes - 2);
  return std::string(prefix) + '_' + text::to_hex(bytes, sizeof bytes);
}

FixedClockEnv FixedClockEnv::at_local_noon(const std::string& date) {
  const auto day = parse_date(date);
  if (!day) throw std::invalid_argument("not a date YYYY-MM-DD: " + date);
  std::tm local{};
  local.tm_year = day->year - 1900;
  local.tm_mon = day->month - 1;
  local.tm_mday = day->day;
  local.tm_hour = 12;
  local.tm_isdst = -1;
  return FixedClockEnv(std::chrono::system_clock::from_time_t(std::mktime(&local)));
}

std::chrono::system_clock::time_point FixedClockEnv::now() {
  std::lock_guard lock(mutex_);
  return now_;
}

void FixedClockEnv::random_bytes(unsigned char* out, std::size_t size) {
  Env::system().random_bytes(out, size);
}

void FixedClockEnv::set(std::chrono::system_clock::time_point now) {
  std::lock_guard lock(mutex_);
  now_ = now;
}

void FixedClockEnv::advance(std::chrono::system_clock::duration by) {
  std::lock_guard lock(mutex_);
  now_ += by;
}

}  // namespace kim::domain
