// Stadt Rheine: the one town of the county with its own coordinating office and its own
// foreigners authority. Cases of its residents are supervised by Rheine's office, and their
// referrals on residence matters go to Rheine's foreigners authority. Only the public SDK; a
// town with the same set-up copies this file and changes the config. See README.md.
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "kim/sdk/sdk.hpp"

namespace {

using kim::sdk::HttpMethod;
using kim::sdk::HttpRequest;
using kim::sdk::HttpResponse;
using nlohmann::json;

constexpr const char* kConfigSchema = R"json({
  "type": "object",
  "properties": {
    "town": {"type": "string", "minLength": 1, "maxLength": 100, "default": "Rheine", "description": "Residents of this town are supervised by `office`."},
    "office": {"type": "string", "minLength": 1, "maxLength": 63, "default": "stadt-rheine-ko", "description": "Slug of the town's coordinating office (an organisation of kind coordinating_office)."},
    "share_with_county": {"type": "boolean", "default": false, "description": "Whether the county's office (the organisation's usual supervisor) keeps read access to the town's cases."},
    "authorities_by_town": {
      "type": "object",
      "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 63},
      "default": {"Rheine": "auslaenderbehoerde-stadt-rheine"},
      "description": "Town -> slug of its own foreigners authority: referrals on residence matters (to a foreigners authority, or under the AufenthG) of residents go there."
    },
    "local_offers": {
      "type": "array", "maxItems": 50,
      "items": {"type": "object", "additionalProperties": true},
      "default": [
        {"slug": "integrationsrat-rheine", "name": "Integrationsrat der Stadt Rheine", "kind": "migrant_organisation", "legal_domain": "none", "county_wide": false, "towns": ["Rheine"], "contact": {"address": "Klosterstraße 14, 48431 Rheine", "website": "https://www.rheine.de"}, "services": ["migrant_community_support"]},
        {"slug": "integrationslotsen-rheine", "name": "Integrationslotsinnen und -lotsen Rheine (Willkommensbegleitung)", "kind": "volunteers", "legal_domain": "none", "county_wide": false, "towns": ["Rheine"], "contact": {"address": "48431 Rheine", "website": "https://www.rheine.de"}, "services": ["welcome_guidance", "volunteer_mentoring"]}
      ],
      "description": "The town's own offers, added to the partner network at start (partner seeds as in the host config's \"partners\"; a slug already present is kept as it is)."
    }
  }
})json";

// Counts from 1 to 4 are shown as "<5": a report must not single out a person.
json shown_all(const std::map<std::string, int>& counts) {
  json out = json::object();
  for (const auto& [key, count] : counts)
    out[key] = kim::sdk::small_count(count);
  return out;
}

class RheinePlugin final : public kim::sdk::Plugin {
 public:
  void load(kim::sdk::PluginHost& host) override {
    host_ = &host;
    const auto& config = host.config();
    town_ = config.at("town").get<std::string>();
    office_ = config.at("office").get<std::string>();
    share_ = config.at("share_with_county").get<bool>();
    authorities_ = config.at("authorities_by_town").get<std::map<std::string, std::string>>();

    host.add_supervision_rule(
        [this](const kim::sdk::SupervisionFacts& facts) -> std::optional<kim::sdk::Supervision> {
          if (facts.town != town_) return std::nullopt;
          return kim::sdk::Supervision{office_, share_};
        });
    host.add_referral_router(
        [this](const kim::sdk::ReferralFacts& facts) -> std::optional<std::string> {
          if (facts.partner_kind != "foreigners_authority" && facts.legal_domain != "aufenthg") {
            return std::nullopt;
          }
          auto own = authorities_.find(facts.town);
          if (own == authorities_.end() || own->second == facts.partner) return std::nullopt;
          return own->second;
        });
    // The town's local offers join the partner network when the plugin starts (idempotent: a
    // restart adds nothing). Given here, so `kim config check` runs the partner rules on them.
    host.seed_partners(config.at("local_offers"));
    host.add_route(
        HttpMethod::kGet, "/reports",
        [this](const HttpRequest& request) { return report(request); },
        kim::sdk::RouteOptions::for_roles({"coordinator", "case_manager"}));
  }

 private:
  // Cases of the town per phase and their referrals per partner, counted over what the caller
  // may read (read_api: the host's policy and audit), aggregated only.
  HttpResponse report(const HttpRequest& request) {
    std::map<std::string, int> phases;
    std::set<std::string> cases;
    if (auto failed = kim::sdk::for_each_item(*host_, request, "/api/v1/cases", {{"town", town_}},
                                              [&](const json& item) {
                                                ++phases[item.at("phase").get<std::string>()];
                                                cases.insert(item.at("id").get<std::string>());
                                              })) {
      return *failed;
    }
    std::map<std::string, int> partners;
    if (auto failed = kim::sdk::for_each_item(
            *host_, request, "/api/v1/referrals", {}, [&](const json& item) {
              if (cases.count(item.at("case_id").get<std::string>())) {
                ++partners[item.at("partner").at("slug").get<std::string>()];
              }
            })) {
      return *failed;
    }
    return HttpResponse::json(
        200, {{"town", town_},
              {"cases", kim::sdk::small_count(static_cast<long long>(cases.size()))},
              {"cases_per_phase", shown_all(phases)},
              {"referrals_per_partner", shown_all(partners)},
              {"small_counts", "counts from 1 to 4 are shown as \"<5\""}});
  }

  kim::sdk::PluginHost* host_ = nullptr;
  std::string town_;
  std::string office_;
  bool share_ = false;
  std::map<std::string, std::string> authorities_;
};

}  // namespace

KIM_PLUGIN(RheinePlugin, "rheine", "1.0.0",
           "Stadt Rheine: own coordinating office supervises residents' cases, residence referrals "
           "to Rheine's foreigners authority, local offers, reports",
           kConfigSchema)
