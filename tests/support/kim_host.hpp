// A running `kim serve` with a realistic set of organisations and users, for system tests.
//
// Organisations (slug: kind, supervisor, team access):
//   ki-kreis-steinfurt: coordinating office of the county
//   stadt-rheine-ko:    coordinating office of Stadt Rheine
//   caritas-rheine:     welfare organisation, supervised by stadt-rheine-ko, no team access
//   drk-greven:         welfare organisation, supervised by ki-kreis-steinfurt, no team access
//   diakonie-emsdetten: welfare organisation, supervised by ki-kreis-steinfurt, TEAM ACCESS
// Users (name: role @ organisation):
//   cm-rheine-1, cm-rheine-2: case_manager @ caritas-rheine
//   cm-greven:                case_manager @ drk-greven
//   cm-emsdetten-1, cm-emsdetten-2: case_manager @ diakonie-emsdetten
//   co-kreis: coordinator @ ki-kreis-steinfurt;  co-rheine: coordinator @ stadt-rheine-ko
//   officer: authority_officer @ ki-kreis-steinfurt;  auditor: auditor;  admin: admin
// Partners: the "partners" seed of the shipped config/kreis-steinfurt.json (the real network).
#pragma once

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/kim_process.hpp"

namespace kim::test {

// The "partners" seed of the shipped config/kreis-steinfurt.json, as written (with the jobcenter's
// "connector" binding, which KimHost drops unless a test passes its own partners).
nlohmann::json shipped_partners();

class KimHost {
 public:
  // `hello_config` is the config block of the example plugin (e.g. {"veto_phase": "closed"}).
  // The top-level keys of `extra_config` replace those of the generated host config (e.g.
  // {"referrals": {"max_wait_days": 0}}).
  //
  // Every host starts on a database of its own in a folder of its own. The first host of a test
  // process with a given config seeds it the way a deployment does (`kim token create` for the
  // admin, then the users through the admin API of the running host) and keeps a copy of the
  // seeded data folder and log; later hosts with the same config start `kim serve` on a copy of
  // that copy. Seeding under the sanitizers costs more than a start, so a suite of many cases,
  // each on a fresh host, pays for it once.
  explicit KimHost(nlohmann::json hello_config = nlohmann::json::object(),
                   nlohmann::json extra_config = nlohmann::json::object());
  ~KimHost();

  // The token of one of the users listed above.
  const std::string& token(const std::string& user) const { return tokens_.at(user); }
  std::int64_t user_id(const std::string& user) const { return user_ids_.at(user); }
  HttpClient client() const { return HttpClient("127.0.0.1", port_); }
  std::uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path database() const { return dir_.path() / "data" / "kim.sqlite3"; }
  std::string log() const { return process_->log(); }
  std::string config_path() const { return (dir_.path() / "kim.json").string(); }

  // Convenience for tests: a person recorded by `user` (fields may be overridden) and a case
  // opened for it. Fail the test (ADD_FAILURE) and return empty JSON on an unexpected status.
  nlohmann::json create_person(const std::string& user, nlohmann::json overrides = {});
  nlohmann::json open_case(const std::string& user, const std::string& person_id);
  // How another organisation comes to open a case for a person (POST /person-links): the
  // `coordinator` links the person, read by `reader` (who may read it), to `organisation`.
  // Fails the test (ADD_FAILURE) and returns false unless linked.
  bool link_person(const std::string& coordinator, const std::string& organisation,
                   const std::string& person_id, const std::string& reader);

  // SIGTERM and wait; returns the exit code.
  int stop();
  // SIGKILL (a crash: nothing is flushed or closed) and wait; restart() starts it again.
  void kill();
  // Stops kim (if it runs) and starts a new one on the same config and data folder; the tokens
  // stay valid. Fails the test (ADD_FAILURE) and returns false when it does not become ready.
  bool restart();

 private:
  bool start();
  // Seeds the fresh database of this host; returns false (after ADD_FAILURE) when it cannot.
  bool seed();

  TempDir dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<KimProcess> process_;
  std::map<std::string, std::string> tokens_;
  std::map<std::string, std::int64_t> user_ids_;
};

}  // namespace kim::test
