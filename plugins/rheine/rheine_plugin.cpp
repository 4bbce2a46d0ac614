// Stadt Rheine: the one town of the county with its own coordinating office and its own
// foreigners authority. Cases of its residents are supervised by Rheine's office, and their
// referrals on residence matters go to Rheine's foreigners authority. Only the public SDK; a
// town with the same set-up copies this file and changes the config. See README.md.
#include <map>
#include <optional>
#include <string>

#include "kim/sdk/sdk.hpp"

namespace {

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
    }
  }
})json";

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
  }

 private:
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
