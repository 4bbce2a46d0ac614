// Shared inside core/partners only (partners and agreements).
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "domain/prelude.hpp"
#include "domain/service_support.hpp"
#include "domain/validation.hpp"
#include "store/sqlite.hpp"

namespace kim::partners {

// The names every file of the module uses, declared once.
using namespace domain::prelude;

constexpr std::size_t kNameMax = 200;
constexpr std::size_t kTextMax = 4000;

bool partner_exists(store::Connection& db, const std::string& slug);

}  // namespace kim::partners
