#include "app/demo_network.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include "domain/catalog.hpp"

namespace kim::app::demo {

using nlohmann::json;
using std::chrono::days;
using store::Connection;
using store::SqlValue;

class Network::Impl {
 public:
  Impl(const DemoData& data, store::Store& store, Services& services, std::uint64_t seed,
       DemoSummary& summary, sys_days today)
      : data_(data),
        store_(store),
        services_(services),
        rng_(seed ^ 0x9e3779b97f4a7c15ULL),
        summary_(summary),
        today_(today) {}

  void create_agreements(const Staff& coordinator) {
    auto partner = [&](const std::string& slug) {
      return store_.read([&](Connection& db) { return partners::find_partner(db, slug); });
    };
    if (!partner(data_.hub)) return;
    const std::chrono::year_month_day now{today_};
    const auto year = now.year();
    for (const auto& spec : data_.agreements) {
      auto found = partner(spec.partner);
      if (!found) continue;
      // Valid: signed three years ago; expired: ended last year; a draft would start next month.
      sys_days from = sys_days((now.year() / now.month() + std::chrono::months(1)) / 1);
      std::optional<sys_days> to;
      if (spec.validity == "valid") {
        from = sys_days((year - std::chrono::years(3)) / spec.from_month / 1);
        if (!spec.open_ended) to = sys_days((year + std::chrono::years(2)) / 12 / 31);
      } else if (spec.validity == "expired") {
        from = sys_days((year - std::chrono::years(4)) / spec.from_month / 1);
        to = sys_days((year - std::chrono::years(1)) / 6 / 30);
      }
      const bool signed_ = spec.validity != "draft";
      const sys_days signed_on = from - days(rng_.between(7, 30));
      const sys_days drafted =
          signed_ ? signed_on - days(rng_.between(20, 60)) : today_ - days(rng_.between(5, 40));
      json body = {{"title", spec.title},
                   {"parties",
                    {{{"partner", data_.hub},
                      {"tasks", spec.hub_tasks},
                      {"responsibility_ends", spec.hub_ends}},
                     {{"partner", spec.partner},
                      {"tasks", spec.partner_tasks},
                      {"responsibility_ends", spec.partner_ends}}}},
                   {"handover_rule", spec.handover_rule},
                   {"services", spec.services},
                   {"valid_from", date_text(from)},
                   {"status", signed_ ? "signed" : "draft"},
                   // The partner receives what the terms name for referrals; the hub hears back who
                   // took part (outcome feedback), nothing more.
                   {"data_terms",
                    {{{"partner", spec.partner},
                      {"categories", spec.categories},
                      {"purposes", {"referral"}}},
                     {{"partner", data_.hub},
                      {"categories", {"identity"}},
                      {"purposes", {"outcome_feedback"}}}}}};
      if (to) body["valid_to"] = date_text(*to);
      if (signed_) body["signed_on"] = date_text(signed_on);
      const json agreement = accepted(services_.partners.create_agreement(coordinator.ctx, body),
                                      "agreement with " + spec.partner);
      const std::string created = stamp_text(drafted, rng_.between(9 * 3600, 15 * 3600), 0);
      backdate(store_,
               {row_with_id("agreements", agreement["id"],
                            {{"created_at", created},
                             {"updated_at",
                              signed_ ? stamp_text(signed_on, rng_.between(9 * 3600, 15 * 3600), 0)
                                      : created}})});
      ++summary_.agreements;
      if (spec.validity != "valid" || !(*found)["active"].get<bool>()) continue;
      Usable usable{spec.partner,
                    (*found)["county_wide"].get<bool>(),
                    (*found)["towns"].get<Strings>(),
                    {},
                    spec.categories,
                    from};
      for (const auto& service : (*found)["services"].get<Strings>()) {
        if (domain::contains(spec.services, service)) usable.services.push_back(service);
      }
      if (!usable.services.empty()) usable_.push_back(std::move(usable));
    }
  }

  // The first suitable cases show a long wait, a refusal and a revocation, whatever the seed.
  void consider(const Candidate& c, CaseStory& story) {
    const Usable* first = offer_for(c, nullptr);
    if (!first) return;
    const bool open = c.phase != "closed";
    const auto span = window_for(c, *first).until - window_for(c, *first).from;
    std::string scenario;
    if (waiting_ < 2 && open && span >= days(35)) {
      scenario = "waiting";
      ++waiting_;
    } else if (declined_ < 2) {
      scenario = "declined";
      ++declined_;
    } else if (revoked_ < 1 && open && span >= days(10)) {
      scenario = "revoked";
      ++revoked_;
    } else if (rng_.chance(0.35)) {
      scenario = random_scenario(c.phase);
    } else {
      return;
    }
    refer(c, *first, scenario, story);
    // Now and then a second partner for another goal.
    if (rng_.chance(0.2)) {
      if (const Usable* second = offer_for(c, first)) {
        refer(c, *second, random_scenario(c.phase), story);
      }
    }
  }

 private:
  // A partner under a signed agreement valid today, and the services of it the partner offers.
  struct Usable {
    std::string partner;
    bool county_wide = false;
    Strings towns;
    Strings services;
    Strings categories;
    sys_days valid_from{};
  };
  struct Window {
    sys_days from, until;
  };
  struct Step {
    std::string status;
    sys_days day{};
    std::string stamp;
  };

  static Window window_for(const Candidate& c, const Usable& usable) {
    return {std::max(c.from, usable.valid_from), c.until};
  }

  bool fits(const std::string& service, const std::string& life_domain) const {
    auto found = data_.services.find(service);
    return found != data_.services.end() && domain::contains(found->second.fits, life_domain);
  }

  // A partner serving the case's town under an agreement in force at the time; one that fits a
  // goal of the case if there is one.
  const Usable* offer_for(const Candidate& c, const Usable* besides) {
    std::vector<const Usable*> serving, fitting;
    for (const auto& usable : usable_) {
      if (&usable == besides) continue;
      const Window window = window_for(c, usable);
      if (!(usable.county_wide || domain::contains(usable.towns, c.town)) ||
          window.until < window.from) {
        continue;
      }
      serving.push_back(&usable);
      bool fitting_goal = false;
      for (const auto& service : usable.services) {
        for (const auto& goal : c.goal_domains)
          fitting_goal = fitting_goal || fits(service, goal);
      }
      if (fitting_goal) fitting.push_back(&usable);
    }
    if (!fitting.empty()) return rng_.pick(fitting);
    if (serving.empty()) return nullptr;
    return rng_.pick(serving);
  }

  std::string random_scenario(const std::string& phase) {
    static const Strings scenarios = {"sent",      "accepted", "in_progress",
                                      "completed", "declined", "cancelled"};
    if (phase == "linking") return scenarios[rng_.weighted({4, 3, 1, 0, 1, 0})];
    if (phase == "closed") return scenarios[rng_.weighted({0, 0, 0, 6, 1, 1})];
    return scenarios[rng_.weighted({1, 1, 3, 4, 1, 1})];
  }

  // Days between a step and the one before it.
  int gap(const std::string& status) {
    if (status == "accepted") return rng_.between(2, 14);
    if (status == "in_progress") return rng_.between(3, 30);
    if (status == "completed") return rng_.between(30, 150);
    if (status == "declined") return rng_.between(3, 21);
    return rng_.between(5, 40);  // cancelled
  }

  // The steps of one referral, laid out backwards from the day of its last step so that a
  // waiting referral waits long enough and a pending one was answered lately.
  std::vector<Step> steps_for(const std::string& scenario, const Window& window) {
    Strings statuses = {"sent"};
    if (scenario == "accepted" || scenario == "in_progress" || scenario == "completed") {
      statuses.push_back("accepted");
    }
    if (scenario == "in_progress" || scenario == "completed") statuses.push_back("in_progress");
    if (scenario == "completed") statuses.push_back("completed");
    if (scenario == "declined") statuses.push_back("declined");
    if (scenario == "waiting" && rng_.chance(0.5)) statuses.push_back("accepted");
    if (scenario == "cancelled" || scenario == "revoked") {
      if (rng_.chance(0.5)) statuses.push_back("accepted");
      statuses.push_back("cancelled");
    }
    const int span = static_cast<int>((window.until - window.from).count());
    int lo = 0, hi = span;  // where the last step lies, in days after window.from
    if (scenario == "waiting") {
      lo = std::max(0, span - 60);
      hi = span - 30;
    } else if (scenario == "sent" || scenario == "accepted") {
      lo = std::max(0, span - 8);
    } else if (scenario == "revoked") {
      lo = std::max(0, span - 45);
    }
    std::vector<Step> steps(statuses.size());
    sys_days day = window.from + days(rng_.between(lo, hi));
    for (std::size_t i = statuses.size(); i-- > 0;) {
      steps[i].status = statuses[i];
      steps[i].day = day;
      day -= days(gap(statuses[i]));
    }
    steps[0].day = std::max(steps[0].day, window.from);
    int second = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (i > 0) steps[i].day = std::max(steps[i].day, steps[i - 1].day);
      // In the afternoon, strictly increasing along the referral.
      if (i == 0 || steps[i].day != steps[i - 1].day) {
        second = rng_.between(13 * 3600, 15 * 3600);
      } else {
        second = std::min(second + rng_.between(300, 1800), 86399);
      }
      steps[i].stamp = stamp_text(steps[i].day, second, ++millis_ % 1000);
    }
    return steps;
  }

  std::string fill_date(std::string text, sys_days day) const {
    const std::chrono::year_month_day ymd{day};
    char german[16];
    std::snprintf(german, sizeof german, "%02u.%02u.%04d", static_cast<unsigned>(ymd.day()),
                  static_cast<unsigned>(ymd.month()), static_cast<int>(ymd.year()));
    if (auto at = text.find("{date}"); at != std::string::npos) text.replace(at, 6, german);
    return text;
  }

  // The partner's answer for a step of the hand-over.
  std::string outcome(const std::string& service, const Step& step) {
    if (step.status == "cancelled") return rng_.pick(data_.cancelled_outcomes);
    const auto& texts = data_.services.at(service).outcomes.at(step.status);
    return fill_date(rng_.pick(texts), step.day + days(rng_.between(4, 14)));
  }

  void refer(const Candidate& c, const Usable& partner, const std::string& scenario,
             CaseStory& story) {
    const std::string& service = rng_.pick(partner.services);
    const auto steps = steps_for(scenario, window_for(c, partner));
    const Step& last = steps.back();
    const bool revoked = scenario == "revoked";
    const auto& ctx = c.manager->ctx;

    // The person's written consent, given before the referral was sent, valid today (or the
    // service would not send).
    const sys_days given = std::max(c.opened, steps.front().day - days(rng_.between(0, 21)));
    sys_days valid_until = given + days(730);
    if (valid_until <= today_) valid_until = today_ + days(rng_.between(30, 300));
    const json consent =
        accepted(services_.consents.grant(
                     ctx, c.person_id,
                     {{"recipients", {partner.partner}},
                      {"purposes", {"referral"}},
                      {"categories", partner.categories},
                      {"form", "written"},
                      {"given_on", date_text(given)},
                      {"valid_until", date_text(valid_until)},
                      {"document_reference", fill_date(data_.consent_document, given)}}),
                 "consent");
    ++summary_.consents;

    json request = {{"partner", partner.partner},
                    {"service", service},
                    {"categories", partner.categories},
                    {"send", true}};
    const auto& messages = data_.services.at(service).messages;
    if (!rng_.chance(0.15)) request["message"] = rng_.pick(messages);
    const std::string id =
        accepted(services_.referrals.create(ctx, c.case_id, request), "referral")["id"]
            .get<std::string>();
    for (std::size_t i = 1; i < steps.size(); ++i) {
      if (revoked && i + 1 == steps.size()) {
        // The participant revokes; the consent service stops the referral.
        accepted(services_.consents.revoke(ctx, c.person_id, consent["id"],
                                           {{"reason", data_.revocation_reason}}),
                 "revocation");
        ++summary_.consents_revoked;
        break;
      }
      accepted(services_.referrals.change_status(ctx, c.case_id, id,
                                                 {{"status", steps[i].status},
                                                  {"outcome", outcome(service, steps[i])},
                                                  {"occurred_on", date_text(steps[i].day)}}),
               "referral step " + steps[i].status);
    }

    std::vector<std::pair<std::string, SqlValue>> consent_dates = {
        {"created_at", stamp_text(given, rng_.between(12 * 3600, 13 * 3600 - 1), 0)}};
    if (revoked) consent_dates.emplace_back("revoked_at", last.stamp);
    story.rows.push_back(row_with_id("consents", consent["id"], consent_dates));
    std::vector<std::pair<std::string, SqlValue>> referral_dates = {
        {"created_at", steps.front().stamp},
        {"sent_at", steps.front().stamp},
        {"status_changed_at", last.stamp}};
    if (last.status == "declined" || last.status == "completed" || last.status == "cancelled") {
      referral_dates.emplace_back("closed_at", last.stamp);
    }
    story.rows.push_back(row_with_id("referrals", id, referral_dates));
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const auto n = static_cast<std::int64_t>(i);
      story.rows.push_back(
          nth_row("referral_history", "referral_id", id, n,
                  {{"at", steps[i].stamp}, {"occurred_on", date_text(steps[i].day)}}));
      story.rows.push_back(
          nth_row("notes", "case_id", c.case_id, story.referral_notes++,
                  {{"created_at", steps[i].stamp}, {"occurred_on", date_text(steps[i].day)}},
                  " AND kind = 'referral'"));
      story.stamped(steps[i].stamp);
    }
    summary_.notes += static_cast<int>(steps.size());
    ++summary_.referrals;
    ++summary_.referrals_by_status[last.status];
  }

  const DemoData& data_;
  store::Store& store_;
  Services& services_;
  Random rng_;
  DemoSummary& summary_;
  sys_days today_;
  std::vector<Usable> usable_;
  int waiting_ = 0, declined_ = 0, revoked_ = 0, millis_ = 0;
};

Network::Network(const DemoData& data, store::Store& store, Services& services, std::uint64_t seed,
                 DemoSummary& summary, sys_days today)
    : impl_(std::make_unique<Impl>(data, store, services, seed, summary, today)) {}

Network::~Network() = default;

void Network::create_agreements(const Staff& coordinator) {
  impl_->create_agreements(coordinator);
}

void Network::consider(const Candidate& candidate, CaseStory& story) {
  impl_->consider(candidate, story);
}

}  // namespace kim::app::demo
