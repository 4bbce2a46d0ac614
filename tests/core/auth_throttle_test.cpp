#include "http/auth_throttle.hpp"

#include <gtest/gtest.h>

namespace kim::http {
namespace {

using namespace std::chrono_literals;
const AuthThrottle::Clock::time_point kStart{};

TEST(AuthThrottle, BurstThenRetryAfterThenEarnedBack) {
  AuthThrottle throttle(4, 64s, 100);  // 4 failures, one earned back every 16 s
  const auto t0 = kStart + 1h;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(throttle.retry_after("a", t0), 0) << i;
    throttle.record_failure("a", t0);
  }
  EXPECT_EQ(throttle.retry_after("a", t0), 16);
  EXPECT_EQ(throttle.retry_after("a", t0 + 8s), 8);
  EXPECT_EQ(throttle.retry_after("a", t0 + 16s), 0);
  throttle.record_failure("a", t0 + 16s);
  EXPECT_EQ(throttle.retry_after("a", t0 + 16s), 16);
  // Another address is not affected.
  EXPECT_EQ(throttle.retry_after("b", t0), 0);
}

TEST(AuthThrottle, TableStaysWithinItsBound) {
  AuthThrottle throttle(2, 60s, 16);
  const auto t0 = kStart + 1h;
  for (int i = 0; i < 1000; ++i) {
    throttle.record_failure("addr" + std::to_string(i), t0);
    EXPECT_LE(throttle.tracked(), 16u);
  }
  // Full buckets are dropped once their address stopped failing: the lock-free path returns.
  EXPECT_EQ(throttle.retry_after("addr999", t0 + 2h), 0);
  EXPECT_EQ(throttle.tracked(), 0u);
}

TEST(AuthThrottle, AddressKeys) {
  const unsigned char v4[] = {127, 0, 0, 1};
  const unsigned char mapped[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  const unsigned char v6a[] = {0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  const unsigned char v6b[] = {0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9};
  EXPECT_EQ(address_key(v4, 4), address_key(mapped, 16));
  // One /64 is one key.
  EXPECT_EQ(address_key(v6a, 16), address_key(v6b, 16));
  EXPECT_EQ(address_key(v6a, 16).size(), 8u);
}

}  // namespace
}  // namespace kim::http
