#include "http/auth_throttle.hpp"

#include <algorithm>
#include <cmath>

namespace kim::http {

AuthThrottle::AuthThrottle(int burst, std::chrono::seconds window, std::size_t max_addresses)
    : burst_(std::max(1, burst)),
      per_second_(burst_ / static_cast<double>(std::max<std::int64_t>(1, window.count()))),
      max_addresses_(std::max<std::size_t>(1, max_addresses)),
      window_(window) {}

void AuthThrottle::refill(Bucket& bucket, Clock::time_point now) const {
  if (now <= bucket.updated) return;
  const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  bucket.tokens = std::min(burst_, bucket.tokens + elapsed * per_second_);
  bucket.updated = now;
}

void AuthThrottle::sweep(Clock::time_point now) {
  for (auto entry = buckets_.begin(); entry != buckets_.end();) {
    refill(entry->second, now);
    entry = entry->second.tokens >= burst_ ? buckets_.erase(entry) : std::next(entry);
  }
  tracked_.store(buckets_.size(), std::memory_order_relaxed);
}

int AuthThrottle::retry_after(std::string_view address, Clock::time_point now) {
  if (tracked_.load(std::memory_order_relaxed) == 0) return 0;
  std::lock_guard lock(mutex_);
  if (now - last_sweep_ >= window_) {
    // Addresses that stopped failing leave the table, so the lock-free path above comes back.
    sweep(now);
    last_sweep_ = now;
  }
  auto it = buckets_.find(std::string(address));
  if (it == buckets_.end()) return 0;
  refill(it->second, now);
  if (it->second.tokens >= 1.0) return 0;
  return std::max(1, static_cast<int>(std::ceil((1.0 - it->second.tokens) / per_second_)));
}

void AuthThrottle::record_failure(std::string_view address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(std::string(address));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_addresses_) {
      // Full buckets say nothing: drop them first. Still full: an arbitrary entry goes (an
      // attacker with that many addresses gains little from evicting one of them).
      sweep(now);
      if (buckets_.size() >= max_addresses_) buckets_.erase(buckets_.begin());
    }
    it = buckets_.emplace(std::string(address), Bucket{burst_, now}).first;
  }
  refill(it->second, now);
  it->second.tokens = std::max(0.0, it->second.tokens - 1.0);
  tracked_.store(buckets_.size(), std::memory_order_relaxed);
}

std::string address_key(const unsigned char* bytes, std::size_t size) {
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (size == 16 && std::equal(bytes, bytes + 12, kMapped)) return {bytes + 12, bytes + 16};
  if (size == 16) return {bytes, bytes + 8};
  return {bytes, bytes + size};
}

}  // namespace kim::http
