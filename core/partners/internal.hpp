// Shared inside core/partners only (partners and agreements).
#pragma once

#include <cstddef>
#include <string>

#include "store/sqlite.hpp"

namespace kim::partners {

constexpr std::size_t kNameMax = 200;
constexpr std::size_t kTextMax = 4000;

bool partner_exists(store::Connection& db, const std::string& slug);

}  // namespace kim::partners
