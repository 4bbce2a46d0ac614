// Time and randomness from one place (LevelDB's Env): services read the clock and make ids only
// through an Env, so rules about dates (overdue, expiry, "not in the future") can be tested
// in-process with a fixed clock, and every id comes from one cryptographically secure source.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace kim::domain {

class Env {
 public:
  virtual ~Env() = default;

  virtual std::chrono::system_clock::time_point now() = 0;
  // Fills `size` bytes from a cryptographically secure generator; throws std::runtime_error if
  // it cannot (an id must never be guessable, so there is no weaker fallback).
  virtual void random_bytes(unsigned char* out, std::size_t size) = 0;

  // The calendar date in the host's time zone (TZ): due dates, consent and agreement validity
  // are the county's dates, so a consent given at 00:30 in Steinfurt is not "in the future".
  std::string today();
  // UTC, "2026-12-01T23:40:12.345Z": when something happened.
  std::string timestamp() { return format_timestamp(now()); }
  static std::string format_timestamp(std::chrono::system_clock::time_point at);
  // "<prefix>_<32 hex>" from random_bytes: ids of social data must not be guessable or countable.
  // The first 4 hex digits are shared by a run of kIdsPerRun consecutive ids (a new random value
  // for each run, never the one before): the rest, 112 bits, is random per id. Why: rows are
  // found by id through B-tree indexes, and wholly random ids put every new row of a batch on
  // another index page; a run's ids sit next to each other, so a commit writes a few pages, not
  // one per row (bench/README.md, "Request path, step 6"). A shared run says only that two ids
  // were among the same 256 made by this process, not when, nor how many came between them.
  std::string new_id(const char* prefix);
  static constexpr int kIdsPerRun = 256;

  // The real clock and OpenSSL's RAND_bytes. Lives as long as the process.
  static Env& system();

 private:
  std::mutex id_mutex_;
  unsigned char id_run_[2] = {0, 0};
  int ids_left_in_run_ = 0;
};

// A clock that stands still until moved (tests, and data laid out in the past); randomness is
// the system's, so ids stay unique. Thread-safe.
class FixedClockEnv : public Env {
 public:
  explicit FixedClockEnv(std::chrono::system_clock::time_point now) : now_(now) {}
  // Noon of `date` ("YYYY-MM-DD") in the host's time zone: the same date in every zone.
  static FixedClockEnv at_local_noon(const std::string& date);

  std::chrono::system_clock::time_point now() override;
  void random_bytes(unsigned char* out, std::size_t size) override;
  void set(std::chrono::system_clock::time_point now);
  void advance(std::chrono::system_clock::duration by);

 private:
  std::mutex mutex_;
  std::chrono::system_clock::time_point now_;
};

}  // namespace kim::domain
