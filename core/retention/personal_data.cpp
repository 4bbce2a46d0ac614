#include "retention/personal_data.hpp"

#include <regex>
#include <stdexcept>

#include <sqlite3.h>

namespace kim::retention {

namespace {

bool identifier(const std::string& name) {
  static const std::regex pattern("[a-z_][a-z0-9_]{0,62}");
  return std::regex_match(name, pattern);
}

// The plugin's Transaction for its handler: its statements on the writer's connection (confined
// by the caller). No audit: core audits the anonymisation.
class HandlerTransaction final : public sdk::Transaction {
 public:
  explicit HandlerTransaction(store::Connection& db) : db_(db) {}
  nlohmann::json query(std::string_view sql, const std::vector<sdk::SqlValue>& params) override {
    return db_.query(sql, params);
  }
  std::int64_t execute(std::string_view sql, const std::vector<sdk::SqlValue>& params) override {
    return db_.execute(sql, params).changes;
  }
  std::int64_t last_insert_rowid() override { return sqlite3_last_insert_rowid(db_.raw()); }
  void audit(const sdk::HttpRequest&, std::string, std::string, std::string) override {
    throw std::logic_error("a personal data handler does not audit: core audits the change");
  }

 private:
  store::Connection& db_;
};

}  // namespace

void PersonalDataRegistry::check(const sdk::PersonalData& data) {
  if (!identifier(data.table) || !identifier(data.link_column)) {
    throw std::invalid_argument("personal data: table and link column must be SQL identifiers");
  }
  if (data.link != "case" && data.link != "person") {
    throw std::invalid_argument("personal data: link must be \"case\" or \"person\"");
  }
  if (data.columns.empty()) throw std::invalid_argument("personal data: no columns declared");
  for (const auto& column : data.columns) {
    if (!identifier(column) || column == data.link_column) {
      throw std::invalid_argument("personal data: column \"" + column +
                                  "\" is not an identifier or is the link column");
    }
  }
}

void PersonalDataRegistry::add(Entry entry) {
  check(entry.data);
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
}

std::vector<PersonalDataRegistry::Entry> PersonalDataRegistry::entries() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

void PersonalDataRegistry::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

std::int64_t PersonalDataRegistry::apply(store::Connection& db,
                                         const sdk::PersonalDataRequest& request) const {
  std::int64_t changed = 0;
  for (const auto& entry : entries()) {
    std::vector<store::SqlValue> keys;
    if (entry.data.link == "case") {
      keys.assign(request.case_ids.begin(), request.case_ids.end());
    } else if (!request.person_id.empty()) {
      keys.emplace_back(request.person_id);
    }
    store::Connection::Confinement confined(db, *entry.authorizer);
    if (!keys.empty()) {
      std::string sql = "UPDATE \"" + entry.data.table + "\" SET ";
      for (std::size_t i = 0; i < entry.data.columns.size(); ++i) {
        sql += (i ? ", \"" : "\"") + entry.data.columns[i] + "\" = NULL";
      }
      sql += " WHERE \"" + entry.data.link_column + "\" IN (";
      for (std::size_t i = 0; i < keys.size(); ++i)
        sql += i ? ",?" : "?";
      sql += ")";
      changed += db.execute(sql, keys).changes;
    }
    if (entry.handler) {
      HandlerTransaction transaction(db);
      entry.handler(transaction, request);
    }
  }
  return changed;
}

}  // namespace kim::retention
