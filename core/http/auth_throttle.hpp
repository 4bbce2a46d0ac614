// Throttles failed sign-ins per client address: a token bucket of `burst` failures that refills
// over `window`. An address with an empty bucket is refused (429) before its token is even
// looked up, so guessing tokens costs time; valid tokens from other addresses never wait.
// The table holds at most `max_addresses` entries, so a flood of addresses cannot exhaust memory.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kim::http {

class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  AuthThrottle(int burst, std::chrono::seconds window, std::size_t max_addresses);

  // Seconds until `address` may try a token again; 0 when it may now. Takes no lock while no
  // address has failed recently (the common case).
  int retry_after(std::string_view address, Clock::time_point now = Clock::now());
  // One failed sign-in from `address`.
  void record_failure(std::string_view address, Clock::time_point now = Clock::now());

  std::size_t tracked() const { return tracked_.load(std::memory_order_relaxed); }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void refill(Bucket& bucket, Clock::time_point now) const;
  // Drops the buckets that are full again (they say nothing); under mutex_.
  void sweep(Clock::time_point now);

  const double burst_;
  const double per_second_;
  const std::size_t max_addresses_;
  const Clock::duration window_;
  Clock::time_point last_sweep_{};
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::atomic<std::size_t> tracked_{0};
};

// The key of a client address for per-address limits: the address for IPv4 (also when mapped
// into IPv6), the /64 prefix for IPv6 (one subscriber's usual share). At most 8 bytes, so it
// fits in a std::string without allocating.
std::string address_key(const unsigned char* bytes, std::size_t size);

}  // namespace kim::http
