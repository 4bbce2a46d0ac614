// The partner network in use, for `kim demo seed`: the hub's cooperation agreements (signed,
// expired, draft) and, for cases that reached linking or monitoring, written consents and
// referrals in every status — a few waiting for weeks, a few declined, one stopped by a revoked
// consent — all through the partner, consent and referral services.
#pragma once

#include <memory>

#include "app/demo_seed.hpp"
#include "app/demo_writing.hpp"

namespace kim::app::demo {

class Network {
 public:
  // Draws from a generator of its own: with or without partners, a seed gives the same persons.
  Network(const DemoData& data, store::Store& store, Services& services, std::uint64_t seed,
          DemoSummary& summary, sys_days today);
  ~Network();

  // The hub's agreements with the partners the config seeds; none without the hub itself.
  void create_agreements(const Staff& coordinator);
  // Perhaps refers the case (still open: before its closure is written).
  void consider(const Candidate& candidate, CaseStory& story);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kim::app::demo
