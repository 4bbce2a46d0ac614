// One running host for every case of a suite: starting kim per case costs seconds under the
// sanitizers, and cases that use their own users and records do not disturb each other.
//   class MyTest : public SharedHost<> {};                      TEST_F(MyTest, …) { *host_ … }
//   class MyParamTest : public SharedHost<::testing::TestWithParam<Row>> {};
#pragma once

#include <memory>

#include <gtest/gtest.h>

#include "support/kim_host.hpp"

namespace kim::test {

template <class Base = ::testing::Test>
class SharedHost : public Base {
 protected:
  static void SetUpTestSuite() { host_ = std::make_unique<KimHost>(); }
  static void TearDownTestSuite() { host_.reset(); }
  static inline std::unique_ptr<KimHost> host_;
};

}  // namespace kim::test
