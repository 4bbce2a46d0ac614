#include "domain/sql_query.hpp"

namespace kim::domain {

SqlQuery& SqlQuery::add(std::string_view sql, std::vector<store::SqlValue> params) {
  sql_ += sql;
  for (auto& param : params)
    params_.push_back(std::move(param));
  return *this;
}

nlohmann::json SqlQuery::run(store::Connection& db, std::string_view order) const {
  return db.query(sql_ + " ORDER BY " + std::string(order), params_);
}

SqlQuery::Page SqlQuery::page(store::Connection& db, std::string_view order, int limit,
                              const CursorOf& cursor_of) const {
  auto params = params_;
  params.emplace_back(static_cast<std::int64_t>(limit) + 1);
  Page page{db.query(sql_ + " ORDER BY " + std::string(order) + " LIMIT ?", params), std::nullopt};
  if (page.rows.size() > static_cast<std::size_t>(limit)) {
    const auto& last = page.rows[limit - 1];
    page.next_cursor =
        cursor_of ? cursor_of(last) : std::to_string(last["seq"].get<std::int64_t>());
    page.rows.erase(page.rows.begin() + limit, page.rows.end());
  }
  return page;
}

}  // namespace kim::domain
