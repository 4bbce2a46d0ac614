// The schema of namespace "core": the files core/store/migrations/NNNN_name.sql, embedded into
// kim_core at build time (core/store/embed_migrations.cmake) and applied by Store::migrate.
//
// A file's first line "-- description" is the description; the migration's SQL, which the
// checksum in schema_migrations covers, is every byte after that line. A shipped file never
// changes: a database that applied it would refuse to start. See core/store/migrations/README.md.
#pragma once

#include <vector>

#include "store/store.hpp"

namespace kim::store {

// Every core migration, ordered by number: versions 1, 2, 3, ... (the build fails on a gap, a
// duplicate number or a badly named file).
std::vector<Migration> core_migrations();

}  // namespace kim::store
