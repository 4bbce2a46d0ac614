// The "file_drop" transport: for partners that exchange files. Each message is written
// atomically (temp file in the same folder, fsync, rename, fsync of the folder) as
// `<idempotency key>.json` into `outbox_dir`, so a repeat overwrites the same file; the
// partner's acknowledgement and report files are read back from `inbox_dir` in name order and
// moved to `processed/` or `rejected/` (with a `.reason` file) beside them.
#pragma once

#include "kim/sdk/connector.hpp"

namespace kim::connectors {

// Its name, settings schema and create function (registered in builtin.cpp).
sdk::ConnectorType file_drop_type();

}  // namespace kim::connectors
