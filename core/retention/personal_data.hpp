// The plugins' declared personal columns (kim/sdk/personal_data.hpp), held for the retention job
// and erasure: each entry remembers its plugin and that plugin's authorizer, so the host's
// statements on a plugin's table run confined to that plugin's tables like its own.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "kim/sdk/personal_data.hpp"
#include "store/sqlite.hpp"

namespace kim::retention {

class PersonalDataRegistry {
 public:
  struct Entry {
    std::string owner;  // plugin id
    sdk::PersonalData data;
    sdk::PersonalDataHandler handler;
    const store::Connection::Authorizer* authorizer;  // the owner's; outlives the entry
  };

  // Throws std::invalid_argument for names that are not SQL identifiers, no columns or a link
  // other than "case"/"person" (checked once here, so the statements built from them are safe).
  static void check(const sdk::PersonalData& data);
  void add(Entry entry);
  std::vector<Entry> entries() const;
  // Drops every entry; called before plugin libraries are released.
  void clear();

  // Clears the declared columns of the rows of `request`'s cases (link "case") and person (link
  // "person") on `db` (the writer's, inside its transaction), each entry under its plugin's
  // authorizer, then calls its handler. Returns how many rows changed.
  std::int64_t apply(store::Connection& db, const sdk::PersonalDataRequest& request) const;

 private:
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace kim::retention
