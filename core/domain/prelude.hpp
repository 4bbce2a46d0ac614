// The names every domain module uses unqualified, in one place: a module writes
// `using namespace domain::prelude;` inside its own namespace instead of a list of its own.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "domain/problem.hpp"
#include "domain/service_support.hpp"
#include "domain/validation.hpp"
#include "store/sqlite.hpp"

namespace kim::domain::prelude {

using domain::Change;
using domain::check;
using domain::Context;
using domain::fail;
using domain::FieldReader;
using domain::Problem;
using domain::Reply;
using domain::Result;
using nlohmann::json;
using store::Connection;
using store::SqlValue;

// NULL for an absent value: the column of an optional field.
template <class T>
SqlValue optional_value(const std::optional<T>& value) {
  return value ? SqlValue(*value) : SqlValue(nullptr);
}

}  // namespace kim::domain::prelude
