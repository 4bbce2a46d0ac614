#include "referrals/routing.hpp"

#include <utility>

#include "cases/records.hpp"
#include "events/event_bus.hpp"
#include "partners/partners.hpp"

namespace kim::referrals {

std::optional<std::string> route_referral(domain::Change& change, const std::string& case_id,
                                          const std::string& person_id, std::string& partner,
                                          const std::string& service) {
  const auto person = change.db.query("SELECT town FROM persons WHERE id = ?", {person_id});
  const auto asked = partners::find_partner(change.db, partner);
  sdk::ReferralFacts facts{case_id,
                           person.empty() ? "" : person[0]["town"].get<std::string>(),
                           partner,
                           service,
                           asked ? (*asked)["kind"].get<std::string>() : "",
                           asked ? (*asked)["legal_domain"].get<std::string>() : ""};
  auto decision = change.bus().route_referral(facts);
  if (!decision || decision->answer == partner) return std::nullopt;
  std::string routed_from = std::exchange(partner, std::move(decision->answer));
  return routed_from;
}

void record_routing(domain::Change& change, const std::string& referral_id,
                    const std::string& case_id, const std::string& routed_from,
                    const std::string& partner) {
  change.db.execute("UPDATE referrals SET routed_from = ? WHERE id = ?",
                    {routed_from, referral_id});
  cases::add_timeline_note(change, case_id, change.env.today(), "referral",
                           "Referral routed to " + partner + " instead of " + routed_from +
                               " (responsible for the person's town)",
                           {{"type", "referral_routed"},
                            {"referral_id", referral_id},
                            {"partner", partner},
                            {"instead_of", routed_from}});
}

}  // namespace kim::referrals
