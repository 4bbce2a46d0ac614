// Tables of the case-management core (core#3).
#pragma once

#include "store/store.hpp"

namespace kim::cases {

store::Migration migration();

}  // namespace kim::cases
