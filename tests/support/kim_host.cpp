#include "support/kim_host.hpp"

#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include <sqlite3.h>

namespace kim::test {

namespace {

struct UserSpec {
  const char* name;
  const char* role;
  const char* organisation;
};

const UserSpec kUsers[] = {
    {"cm-rheine-1", "case_manager", "caritas-rheine"},
    {"cm-rheine-2", "case_manager", "caritas-rheine"},
    {"cm-greven", "case_manager", "drk-greven"},
    {"cm-emsdetten-1", "case_manager", "diakonie-emsdetten"},
    {"cm-emsdetten-2", "case_manager", "diakonie-emsdetten"},
    {"co-kreis", "coordinator", "ki-kreis-steinfurt"},
    {"co-rheine", "coordinator", "stadt-rheine-ko"},
    {"officer", "authority_officer", "ki-kreis-steinfurt"},
    {"auditor", "auditor", ""},
    {"admin", "admin", ""},
};

// What a seeded host leaves for the later hosts of this test process with the same config: its
// data folder and log as they were right after seeding, and the users' tokens and ids.
struct SeededData {
  TempDir dir;  // data/ and kim.log
  std::map<std::string, std::string> tokens;
  std::map<std::string, std::int64_t> user_ids;
};

// By config (without the port, which differs from host to host).
std::map<std::string, std::unique_ptr<SeededData>>& seeded_data() {
  static std::map<std::string, std::unique_ptr<SeededData>> by_config;
  return by_config;
}

std::string config_key(nlohmann::json config) {
  if (config.contains("server") && config["server"].is_object()) config["server"].erase("listen");
  return config.dump();
}

// A consistent copy of the database of a running kim, page by page through SQLite's online
// backup (a copy of the files could catch the WAL mid-write). Returns an error message or "".
std::string copy_database(const std::filesystem::path& from, const std::filesystem::path& to) {
  sqlite3* source = nullptr;
  sqlite3* target = nullptr;
  std::string error;
  if (sqlite3_open_v2(from.c_str(), &source, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK ||
      sqlite3_open_v2(to.c_str(), &target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
          SQLITE_OK) {
    error = "cannot open " + from.string() + " or " + to.string();
  } else if (sqlite3_busy_timeout(source, 10000) != SQLITE_OK) {
    error = sqlite3_errmsg(source);
  } else {
    sqlite3_backup* backup = sqlite3_backup_init(target, "main", source, "main");
    if (!backup) {
      error = sqlite3_errmsg(target);
    } else {
      const int step = sqlite3_backup_step(backup, -1);
      if (sqlite3_backup_finish(backup) != SQLITE_OK || step != SQLITE_DONE) {
        error = "backup of " + from.string() + ": " + sqlite3_errmsg(target);
      }
    }
  }
  sqlite3_close(source);
  sqlite3_close(target);
  return error;
}

// Keeps the freshly seeded data folder and log of `host_dir` for later hosts.
std::unique_ptr<SeededData> keep_seeded(const std::filesystem::path& host_dir) {
  auto kept = std::make_unique<SeededData>();
  const auto data = host_dir / "data";
  const auto kept_data = kept->dir.path() / "data";
  std::error_code error;
  std::filesystem::create_directory(kept_data, data, error);
  for (const auto& entry : std::filesystem::directory_iterator(data, error)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("kim.sqlite3", 0) == 0) continue;  // the database, its WAL and shared memory
    std::filesystem::copy(entry.path(), kept_data / name, std::filesystem::copy_options::recursive,
                          error);
    if (error) break;
  }
  if (!error) std::filesystem::copy_file(host_dir / "kim.log", kept->dir.path() / "kim.log", error);
  if (error) {
    ADD_FAILURE() << "cannot keep the seeded data folder " << data << ": " << error.message();
    return nullptr;
  }
  if (auto failed = copy_database(data / "kim.sqlite3", kept_data / "kim.sqlite3");
      !failed.empty()) {
    ADD_FAILURE() << failed;
    return nullptr;
  }
  return kept;
}

}  // namespace

nlohmann::json shipped_partners() {
  const std::filesystem::path path =
      std::filesystem::path(KIM_SOURCE_DIR) / "config" / "kreis-steinfurt.json";
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return nlohmann::json::array();
  }
  auto shipped = nlohmann::json::parse(in, nullptr, false);
  if (!shipped.is_object()) {
    ADD_FAILURE() << path << " is not a JSON object";
    return nlohmann::json::array();
  }
  return shipped.value("partners", nlohmann::json::array());
}

KimHost::KimHost(nlohmann::json hello_config, nlohmann::json extra_config) {
  port_ = free_port();
  // The shipped connector bindings name instances of the shipped config: a test that wants them
  // passes "connectors" and "partners" in extra_config.
  auto partners = shipped_partners();
  for (auto& partner : partners)
    partner.erase("connector");
  nlohmann::json config = {
      {"deployment", {{"name", "Kreis Steinfurt (test)"}}},
      {"data_dir", "data"},
      {"server", {{"listen", "127.0.0.1:" + std::to_string(port_)}}},
      {"organisations",
       {{{"slug", "ki-kreis-steinfurt"},
         {"name", "Kommunales Integrationszentrum Kreis Steinfurt"},
         {"kind", "coordinating_office"},
         {"town", "Steinfurt"}},
        {{"slug", "stadt-rheine-ko"},
         {"name", "Stadt Rheine, koordinierende Stelle"},
         {"kind", "coordinating_office"},
         {"town", "Rheine"}},
        {{"slug", "caritas-rheine"},
         {"name", "Caritasverband Rheine"},
         {"kind", "welfare_organisation"},
         {"town", "Rheine"},
         {"supervisor", "stadt-rheine-ko"}},
        {{"slug", "drk-greven"},
         {"name", "DRK Greven"},
         {"kind", "welfare_organisation"},
         {"town", "Greven"},
         {"supervisor", "ki-kreis-steinfurt"}},
        {{"slug", "diakonie-emsdetten"},
         {"name", "Diakonie Emsdetten"},
         {"kind", "welfare_organisation"},
         {"town", "Emsdetten"},
         {"supervisor", "ki-kreis-steinfurt"},
         {"team_access", true}}}},
      {"plugins",
       {{"directories", {KIM_PLUGIN_DIR}}, {"settings", {{"hello", {{"config", hello_config}}}}}}},
      {"partners", partners}};
  // "server" settings are merged (the listen address above stays); other keys replace.
  for (auto& [key, value] : extra_config.items()) {
    if (key == "server" && value.is_object()) {
      config[key].update(value);
    } else {
      config[key] = value;
    }
  }
  std::ofstream(config_path()) << config.dump(2);

  const auto key = config_key(config);
  if (auto seeded = seeded_data().find(key); seeded != seeded_data().end()) {
    std::error_code error;
    std::filesystem::copy(seeded->second->dir.path(), dir_.path(),
                          std::filesystem::copy_options::recursive, error);
    if (error) {
      ADD_FAILURE() << "cannot copy the seeded data folder: " << error.message();
      return;
    }
    tokens_ = seeded->second->tokens;
    user_ids_ = seeded->second->user_ids;
    start();
    return;
  }
  if (!seed()) return;
  if (auto kept = keep_seeded(dir_.path())) {
    kept->tokens = tokens_;
    kept->user_ids = user_ids_;
    seeded_data().emplace(key, std::move(kept));
  }
}

bool KimHost::seed() {
  // Only the admin comes from the CLI; the others through the admin API of the running host,
  // which saves a process start per user (slow under the sanitizers).
  auto admin = run_command(KIM_BINARY, {"token", "create", "--config", config_path(), "--user",
                                        "admin", "--role", "admin"});
  if (admin.exit_code != 0) {
    ADD_FAILURE() << "token create admin: " << admin.err;
    return false;
  }
  tokens_["admin"] = admin.out.substr(0, admin.out.find('\n'));
  if (!start()) return false;
  bool seeded = true;
  auto admin_client = client();
  for (const auto& user : kUsers) {
    if (std::string(user.name) == "admin") continue;
    nlohmann::json body = {{"name", user.name}, {"role", user.role}};
    if (*user.organisation) body["organisation"] = user.organisation;
    auto created = admin_client.post("/api/v1/users", body, tokens_["admin"]);
    if (created.status != 201) {
      ADD_FAILURE() << "create user " << user.name << ": " << created.status << " " << created.body;
      seeded = false;
      continue;
    }
    tokens_[user.name] = created.json()["token"].get<std::string>();
  }
  auto users = client().get("/api/v1/users", tokens_["admin"]);
  if (users.status == 200) {
    const auto body = users.json();  // keep the document alive while iterating it
    for (const auto& user : body["items"]) {
      user_ids_[user["name"].get<std::string>()] = user["id"].get<std::int64_t>();
    }
  } else {
    ADD_FAILURE() << "GET /api/v1/users: " << users.status << " " << users.body;
    seeded = false;
  }
  return seeded;
}

KimHost::~KimHost() {
  // A clean stop exits with 0; anything else (a sanitizer finding, a leak reported at exit, a
  // hang) fails the test that ran this host. A test that stopped kim itself checked the code.
  if (process_ && !process_->exited()) {
    process_->send_signal(SIGTERM);
    const auto code = process_->wait_exit(std::chrono::seconds(30));
    if (code != 0) {
      ADD_FAILURE() << "kim exited with " << (code ? std::to_string(*code) : "nothing (hangs)")
                    << " on SIGTERM: " << log();
    }
  }
}

bool KimHost::start() {
  // The port was free when picked, but a parallel test may take it before kim binds: then kim
  // exits with "cannot listen" and we try another port.
  for (int attempt = 0;; ++attempt) {
    process_ = std::make_unique<KimProcess>(
        KIM_BINARY,
        std::vector<std::string>{"serve", "--config", config_path(), "--listen",
                                 "127.0.0.1:" + std::to_string(port_)},
        dir_.path() / "kim.log");
    if (process_->wait_ready(port_)) return true;
    if (attempt < 2 && process_->log().find("cannot listen") != std::string::npos) {
      port_ = free_port();
      continue;
    }
    ADD_FAILURE() << "kim did not become ready: " << process_->log();
    return false;
  }
}

int KimHost::stop() {
  process_->send_signal(SIGTERM);
  return process_->wait_exit(std::chrono::seconds(30)).value_or(-1);
}

void KimHost::kill() {
  process_->send_signal(SIGKILL);
  process_->wait_exit(std::chrono::seconds(30));
  process_.reset();
}

bool KimHost::restart() {
  if (process_) {
    const int code = stop();
    if (code != 0) ADD_FAILURE() << "kim exited with " << code << " on SIGTERM: " << log();
  }
  return start();
}

nlohmann::json KimHost::create_person(const std::string& user, nlohmann::json overrides) {
  static std::atomic<int> counter{0};
  int n = ++counter;
  nlohmann::json body = {{"given_names", "Test" + std::to_string(n)},
                         {"family_name", "Person" + std::to_string(n)},
                         {"date_of_birth", "1990-01-01"},
                         {"town", "Rheine"},
                         {"residence_status", "residence_permit"}};
  for (auto& [key, value] : overrides.items())
    body[key] = value;
  auto response = client().post("/api/v1/persons", body, token(user));
  if (response.status != 201) {
    ADD_FAILURE() << "create person: " << response.status << " " << response.body;
    return {};
  }
  return response.json();
}

nlohmann::json KimHost::open_case(const std::string& user, const std::string& person_id) {
  auto response = client().post("/api/v1/cases", {{"person_id", person_id}}, token(user));
  if (response.status != 201) {
    ADD_FAILURE() << "open case: " << response.status << " " << response.body;
    return {};
  }
  return response.json();
}

bool KimHost::link_person(const std::string& coordinator, const std::string& organisation,
                          const std::string& person_id, const std::string& reader) {
  auto person = client().get("/api/v1/persons/" + person_id, token(reader));
  if (person.status != 200) {
    ADD_FAILURE() << "read person to link: " << person.status << " " << person.body;
    return false;
  }
  const nlohmann::json body = {{"organisation", organisation},
                               {"given_names", person.json()["given_names"]},
                               {"family_name", person.json()["family_name"]},
                               {"date_of_birth", person.json()["date_of_birth"]},
                               {"justification", "Confirmed with the person and both offices"}};
  auto linked = client().post("/api/v1/person-links", body, token(coordinator));
  if (linked.status != 201) {
    ADD_FAILURE() << "link person: " << linked.status << " " << linked.body;
    return false;
  }
  return true;
}

}  // namespace kim::test
