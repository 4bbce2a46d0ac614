// Personal data in a plugin's own tables, for retention and erasure (SDK 3.1). A plugin declares
// in Plugin::load() which columns of its tables hold personal data and which column links a row
// to a case or person (PluginHost::declare_personal_data); when core anonymises a case after its
// retention period, or erases a person after an approved erasure request (GDPR Art. 17), it sets
// those columns to NULL in the same transaction, then calls the plugin's handler, if any, for
// what a column list cannot say (derived rows, counters). Keep statistical columns (dates,
// statuses) undeclared, so the plugin's figures stay right.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "kim/sdk/database.hpp"

namespace kim::sdk {

struct PersonalData {
  std::string table;          // one of the plugin's own tables ("<plugin id>_…")
  std::string link_column;    // holds the id of the case ("case_…") or person ("person_…")
  std::string link = "case";  // "case" or "person": what link_column holds
  std::vector<std::string> columns;  // set to NULL: they must allow NULL
};

struct PersonalDataRequest {
  std::string action;                 // "anonymise" (retention over) or "erase" (Art. 17)
  std::string person_id;              // empty when only cases are anonymised
  std::vector<std::string> case_ids;  // the cases concerned
};

// Runs inside core's transaction, confined to the plugin's tables like database(); throwing
// fails the whole anonymisation or erasure (nothing is kept), and it is retried at the next run.
// Transaction::audit is not available here (core audits the anonymisation itself).
using PersonalDataHandler = std::function<void(Transaction&, const PersonalDataRequest&)>;

}  // namespace kim::sdk
