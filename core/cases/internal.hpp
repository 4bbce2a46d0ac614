// Shared inside core/cases only: limits of free text and the SQL fragment of readable persons.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "domain/prelude.hpp"
#include "kim/sdk/http.hpp"

#include "domain/service_support.hpp"
#include "domain/validation.hpp"
#include "store/sqlite.hpp"

namespace kim::cases {

// The names every file of the module uses, declared once.
using namespace domain::prelude;

constexpr std::size_t kNameMax = 100;
constexpr std::size_t kTextMax = 10000;
constexpr std::size_t kSummaryMax = 2000;

}  // namespace kim::cases
