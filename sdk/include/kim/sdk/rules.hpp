// Decisions a plugin takes for core: which office supervises a case, which partner receives a
// referral. Registered in Plugin::load() (PluginHost::add_supervision_rule,
// add_referral_router); core asks them inside the write that needs the answer, so keep them
// quick, pure and free of I/O. Facts carry identifiers and towns, never names.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace kim::sdk {

// What core knows when it decides who supervises a case, or a person's record (so a person
// recorded before any case is read by the office that will supervise the case): when the case is
// opened or the person recorded, whenever the person's town changes, and at every start of the
// host (so enabling, disabling or reconfiguring a plugin takes effect on the stored records).
struct SupervisionFacts {
  std::string case_id;             // "case_<hex>"; "" when deciding for the person's record
  std::string organisation;        // slug of the case's (or the person's recording) organisation
  std::string town;                // the person's town (a name of the catalogue's towns)
  std::string default_supervisor;  // slug of the organisation's supervisor; "" when none
};

// A rule's answer: `office` (slug of a coordinating office) supervises the case instead of the
// organisation's supervisor. With `share_with_default` the organisation's supervisor keeps read
// access as well (the case then has two supervising offices).
struct Supervision {
  std::string office;
  bool share_with_default = false;
};

// Returns nothing to leave the case with its organisation's supervisor. Rules are asked in
// registration order; the first answer wins. A rule that throws, or names an organisation that
// is not a coordinating office, fails the change (fail closed: a case is never shown to an
// office nobody chose); so does any change needing a decision while an enabled plugin that may
// hold a rule is not running (503 supervision_unavailable).
using SupervisionRule = std::function<std::optional<Supervision>(const SupervisionFacts&)>;

// A referral as the case manager asked for it, before any check.
struct ReferralFacts {
  std::string case_id;
  std::string town;          // the person's town
  std::string partner;       // slug of the partner asked for
  std::string service;       // catalogue service, e.g. "residence_matters"
  std::string partner_kind;  // e.g. "foreigners_authority"; "" when the slug is unknown
  std::string legal_domain;  // e.g. "aufenthg"; "" when the slug is unknown
};

// Returns the slug of the partner that receives the referral instead, or nothing to keep it.
// Routers are asked in registration order; the first answer wins. The routed referral is then
// judged by the normal rules (active partner, service offered, agreement, consent, minimised
// categories) and records `routed_from`. A router that throws fails the referral.
using ReferralRouter = std::function<std::optional<std::string>(const ReferralFacts&)>;

}  // namespace kim::sdk
