// A migrated core database in a fresh temporary folder, for core tests that drive the services
// directly (no host), and the users they act as. Durability is not under test there, so it
// writes with synchronous=OFF.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "auth/access.hpp"
#include "domain/env.hpp"
#include "domain/service_support.hpp"
#include "events/event_bus.hpp"
#include "orgs/organisations.hpp"
#include "store/core_migrations.hpp"
#include "store/store.hpp"

namespace kim::test {

// Creates `dir` (a new folder named after `name`) and opens kim.sqlite3 in it with core's
// migrations applied. Remove the folder after the store is closed.
inline std::unique_ptr<store::Store> open_migrated_store(std::filesystem::path& dir,
                                                         const std::string& name) {
  static std::atomic<int> counter{0};
  dir = std::filesystem::temp_directory_path() /
        (name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  store::StoreOptions options;
  options.path = dir / "kim.sqlite3";
  options.synchronous = "OFF";
  auto store = std::make_unique<store::Store>(options);
  store->migrate("core", store::core_migrations());
  return store;
}

// A user made as `kim token create` makes one; the principal its token authenticates as.
inline sdk::Principal make_user(store::Store& store, events::EventBus& events, domain::Env& env,
                                const std::string& name, const std::string& role,
                                const std::string& organisation) {
  orgs::AdminService admin(store, events, env);
  auto made = admin.grant_token(orgs::cli_context(),
                                {{"name", name}, {"role", role}, {"organisation", organisation}});
  EXPECT_TRUE(made) << name;
  return *auth::AccessDirectory(store).authenticate(made.value().body["token"].get<std::string>());
}

// The context of a service call by `who`.
inline domain::Context as(const sdk::Principal& who) {
  return {{who, "test"}, std::nullopt};
}

}  // namespace kim::test
