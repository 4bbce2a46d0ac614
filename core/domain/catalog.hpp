// The fixed vocabularies of the domain (DOMAIN.md): towns of the county, life domains, phases of
// the case-management cycle, and the enumerations the API accepts. One place, so validation,
// OpenAPI and demo data agree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kim::domain {

using Vocabulary = std::vector<std::string>;

const Vocabulary& towns();               // the 24 towns of Kreis Steinfurt, as written there
const Vocabulary& life_domains();        // assessment and goal domains
const Vocabulary& need_levels();         // none, low, medium, high
const Vocabulary& residence_statuses();  // residence_permit, settlement_permit, duldung, …
const Vocabulary& genders();
const Vocabulary& phases();  // access … closed
const Vocabulary& closure_reasons();
const Vocabulary& goal_statuses();
const Vocabulary& note_kinds();
const Vocabulary& organisation_kinds();
const Vocabulary& household_relations();

// The partner network (Schnittstellen): kinds of partner, the legal domain (Rechtskreis) a partner
// works in, and the service catalogue.
const Vocabulary& partner_kinds();
const Vocabulary& legal_domains();  // sgb2, sgb3, sgb8, sgb12, asylblg, aufenthg, stag, none
const Vocabulary& services();
// SGB II, SGB III and SGB VIII run their own case management: KIM refers (Verweisberatung).
bool has_own_case_management(std::string_view legal_domain);

// Data protection: the categories of personal data that may be passed on, the purposes they may
// be passed on for, and the forms a consent may take.
const Vocabulary& data_categories();
bool is_special_category(std::string_view category);  // Art. 9 GDPR: health
const Vocabulary& purposes();
const Vocabulary& consent_forms();
const Vocabulary& agreement_statuses();
const Vocabulary& referral_statuses();
// Which referral status may follow `from` (the hand-over cycle).
Vocabulary next_referral_statuses(std::string_view from);

// Programmes a person may take part in; those that exclude a KIM case (no double funding).
const Vocabulary& programmes();
bool programme_excludes_kim(std::string_view programme);

bool contains(const Vocabulary& vocabulary, std::string_view value);
// "a, b, c" for error messages.
std::string join(const Vocabulary& vocabulary);

// The case-management cycle: which phases may follow `from` (without "closed", which any open
// phase may reach, and "reopen", which leads from closed back to assessment).
Vocabulary next_phases(std::string_view from);

}  // namespace kim::domain
