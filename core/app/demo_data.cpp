#include "app/demo_data.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include <boost/dll/runtime_symbol_info.hpp>
#include <nlohmann/json.hpp>

#include "domain/catalog.hpp"

namespace kim::app {

namespace {

using nlohmann::json;

constexpr const char* kFiles[] = {"population.json", "organisations.json", "case_texts.json",
                                  "partner_network.json"};

// Reads one JSON value of a data file; every problem names the file and the path to the value.
class Reader {
 public:
  Reader(const json& value, std::string file, std::string path)
      : value_(value), file_(std::move(file)), path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw DemoDataError(file_ + ": " + (path_.empty() ? "(top level)" : path_) + ": " + message);
  }

  Reader at(const std::string& key) const {
    if (!value_.is_object()) fail("must be an object");
    if (!value_.contains(key)) Reader(value_, file_, join(key)).fail("is missing");
    return Reader(value_.at(key), file_, join(key));
  }
  bool has(const std::string& key) const { return value_.is_object() && value_.contains(key); }
  const json& value() const { return value_; }

  std::string text() const {
    if (!value_.is_string() || value_.get<std::string>().empty()) fail("must be a text");
    return value_.get<std::string>();
  }
  std::string text(const std::string& key, const std::string& otherwise) const {
    return has(key) ? at(key).text() : otherwise;
  }
  int integer(int min, int max) const {
    if (!value_.is_number_integer() || value_.get<int>() < min || value_.get<int>() > max) {
      fail("must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return value_.get<int>();
  }
  bool boolean(const std::string& key) const {
    if (!has(key)) return false;
    const auto& value = value_.at(key);
    if (!value.is_boolean()) at(key).fail("must be true or false");
    return value.get<bool>();
  }
  // A non-empty array of texts, each one of `allowed` unless that is empty.
  Strings texts(const domain::Vocabulary& allowed = {}) const {
    if (!value_.is_array() || value_.empty()) fail("must be a non-empty array of texts");
    Strings out;
    for (std::size_t i = 0; i < value_.size(); ++i) {
      Reader item = element(i);
      out.push_back(item.text());
      if (!allowed.empty() && !domain::contains(allowed, out.back())) {
        item.fail("must be one of: " + domain::join(allowed));
      }
    }
    return out;
  }
  std::string choice(const domain::Vocabulary& allowed) const {
    std::string value = text();
    if (!domain::contains(allowed, value)) fail("must be one of: " + domain::join(allowed));
    return value;
  }
  std::size_t size() const {
    if (!value_.is_array() || value_.empty()) fail("must be a non-empty array");
    return value_.size();
  }
  Reader element(std::size_t i) const {
    return Reader(value_.at(i), file_, path_ + "[" + std::to_string(i) + "]");
  }
  // The keys of an object, each one of `allowed`; with `complete`, every allowed key is there.
  Strings keys(const domain::Vocabulary& allowed, bool complete) const {
    if (!value_.is_object() || value_.empty()) fail("must be a non-empty object");
    Strings out;
    for (const auto& [key, ignored] : value_.items()) {
      if (!domain::contains(allowed, key)) at(key).fail("is not one of: " + domain::join(allowed));
      out.push_back(key);
    }
    if (complete) {
      for (const auto& key : allowed) {
        if (!value_.contains(key)) at(key);  // fails: is missing
      }
    }
    return out;
  }

 private:
  std::string join(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  const json& value_;
  std::string file_;
  std::string path_;
};

json parse_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw DemoDataError(file.string() + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw DemoDataError(file.string() + ": not valid JSON: " + e.what());
  }
}

void read_population(const Reader& in, DemoData& data) {
  Reader origins = in.at("origins");
  for (std::size_t i = 0; i < origins.size(); ++i) {
    Reader o = origins.element(i);
    DemoOrigin origin;
    origin.nationality = o.at("nationality").text();
    if (origin.nationality.size() != 2) o.at("nationality").fail("must be two capital letters");
    origin.weight = o.at("weight").integer(1, 1000);
    origin.male = o.at("male").texts();
    origin.female = o.at("female").texts();
    origin.family = o.at("family").texts();
    Reader languages = o.at("languages");
    for (std::size_t l = 0; l < languages.size(); ++l) {
      origin.languages.push_back(languages.element(l).texts());
    }
    origin.statuses = o.at("statuses").texts(domain::residence_statuses());
    origin.earliest_arrival_year = o.at("earliest_arrival_year").integer(1950, 2100);
    data.origins.push_back(std::move(origin));
  }
  Reader weights = in.at("town_weights");
  for (const auto& town : weights.keys(domain::towns(), false)) {
    data.town_weights[town] = weights.at(town).integer(1, 10000);
  }
}

void read_organisations(const Reader& in, DemoData& data) {
  Reader list = in.at("organisations");
  std::set<std::string> slugs;
  for (std::size_t i = 0; i < list.size(); ++i) {
    Reader o = list.element(i);
    DemoOrganisation org;
    org.seed.slug = o.at("slug").text();
    org.seed.name = o.at("name").text();
    org.seed.kind = o.at("kind").choice(domain::organisation_kinds());
    org.seed.town = o.text("town", "");
    org.seed.supervisor = o.text("supervisor", "");
    org.seed.team_access = o.boolean("team_access");
    if (!org.seed.supervisor.empty() && !slugs.count(org.seed.supervisor)) {
      o.at("supervisor").fail("must name an organisation listed before this one");
    }
    if (o.has("serves")) org.serves = o.at("serves").texts(domain::towns());
    if (o.has("case_managers")) org.case_managers = o.at("case_managers").texts();
    if (!org.serves.empty() && org.case_managers.empty()) {
      o.fail("serves towns, so it needs case_managers");
    }
    org.coordinator = o.text("coordinator", "");
    slugs.insert(org.seed.slug);
    data.organisations.push_back(std::move(org));
  }
  data.other_towns_to = in.at("other_towns_to").text();
  bool found = false;
  for (const auto& org : data.organisations)
    found = found || (org.seed.slug == data.other_towns_to && !org.case_managers.empty());
  if (!found) in.at("other_towns_to").fail("must name an organisation with case_managers");
  data.auditor = in.at("auditor").text();
}

void read_case_texts(const Reader& in, DemoData& data) {
  static const domain::Vocabulary kLevels = {"high", "medium", "low"};
  Reader domains = in.at("life_domains");
  for (const auto& name : domains.keys(domain::life_domains(), true)) {
    Reader d = domains.at(name);
    DomainTexts texts;
    Reader summaries = d.at("summaries");
    for (const auto& level : summaries.keys(kLevels, true))
      texts.summaries[level] = summaries.at(level).text();
    texts.goals = d.at("goals").texts();
    texts.tasks = d.at("tasks").texts();
    data.life_domains[name] = std::move(texts);
  }
  data.no_need_summary = in.at("no_need_summary").text();
  domain::Vocabulary open_phases = domain::phases();
  std::erase(open_phases, "closed");
  Reader notes = in.at("phase_notes");
  for (const auto& phase : notes.keys(open_phases, true)) {
    Reader list = notes.at(phase);
    for (std::size_t i = 0; i < list.size(); ++i) {
      Reader note = list.element(i);
      data.phase_notes[phase].push_back(
          {note.at("kind").choice(domain::note_kinds()), note.at("text").text()});
    }
  }
  Reader closure = in.at("closure_notes");
  for (const auto& reason : closure.keys(domain::closure_reasons(), true))
    data.closure_notes[reason] = closure.at(reason).text();
  data.reopen_note = in.at("reopen_note").text();
  data.intake_tasks = in.at("intake_tasks").texts();
  data.monitoring_tasks = in.at("monitoring_tasks").texts();
}

void read_partner_network(const Reader& in, DemoData& data) {
  data.hub = in.at("hub").text();
  Reader services = in.at("services");
  for (const auto& name : services.keys(domain::services(), false)) {
    Reader s = services.at(name);
    DemoService service;
    service.fits = s.at("fits").texts(domain::life_domains());
    service.messages = s.at("messages").texts();
    Reader outcomes = s.at("outcomes");
    for (const auto& status :
         outcomes.keys({"accepted", "in_progress", "completed", "declined"}, true)) {
      service.outcomes[status] = outcomes.at(status).texts();
    }
    data.services[name] = std::move(service);
  }
  static const domain::Vocabulary kValidity = {"valid", "expired", "draft"};
  Reader agreements = in.at("agreements");
  for (std::size_t i = 0; i < agreements.size(); ++i) {
    Reader a = agreements.element(i);
    DemoAgreement agreement;
    agreement.partner = a.at("partner").text();
    agreement.validity = a.at("validity").choice(kValidity);
    agreement.from_month = a.at("from_month").integer(1, 12);
    agreement.open_ended = a.boolean("open_ended");
    agreement.title = a.at("title").text();
    agreement.services = a.at("services").texts(domain::services());
    agreement.categories = a.at("categories").texts(domain::data_categories());
    for (const auto& category : agreement.categories) {
      // A referral's consent covers all its categories at once; health needs its own consent.
      if (domain::is_special_category(category)) a.at("categories").fail("must not name health");
    }
    if (agreement.validity == "valid") {
      for (const auto& service : agreement.services) {
        if (!data.services.count(service)) a.at("services").fail(service + " has no texts");
      }
    }
    agreement.hub_tasks = a.at("hub_tasks").text();
    agreement.hub_ends = a.at("hub_ends").text();
    agreement.partner_tasks = a.at("partner_tasks").text();
    agreement.partner_ends = a.at("partner_ends").text();
    agreement.handover_rule = a.at("handover_rule").text();
    data.agreements.push_back(std::move(agreement));
  }
  data.cancelled_outcomes = in.at("cancelled_outcomes").texts();
  data.consent_document = in.at("consent_document").text();
  data.revocation_reason = in.at("revocation_reason").text();
}

// The entries are checked by the funding service when they are written; here only their shape
// and that each forwarding names a decision of the file.
void read_funding(const Reader& in, DemoData& data) {
  auto objects = [&](const char* key, std::vector<json>& out) {
    if (!in.has(key)) return;
    Reader list = in.at(key);
    for (std::size_t i = 0; i < list.size(); ++i) {
      Reader item = list.element(i);
      if (!item.value().is_object()) item.fail("must be an object");
      out.push_back(item.value());
    }
  };
  objects("decisions", data.funding_decisions);
  objects("posts", data.funding_posts);
  objects("forwardings", data.funding_forwardings);
  for (std::size_t i = 0; i < data.funding_forwardings.size(); ++i) {
    Reader item = in.at("forwardings").element(i);
    item.at("decision").integer(0, static_cast<int>(data.funding_decisions.size()) - 1);
  }
}

void read_steering(const Reader& in, DemoData& data) {
  static const domain::Vocabulary kKinds = {"monthly_working_group", "steering_group",
                                            "thematic_working_group"};
  Reader bodies = in.at("bodies");
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    Reader body = bodies.element(i);
    body.keys({"name", "kind", "topic", "members"}, false);
    body.at("name").text();
    if (body.at("kind").choice(kKinds) == "thematic_working_group") body.at("topic").text();
    Reader members = body.at("members");
    for (std::size_t m = 0; m < members.size(); ++m) {
      members.element(m).keys({"partner", "user"}, false);
    }
    data.bodies.push_back(body.value());
  }
  Reader chains = in.at("chains");
  for (std::size_t i = 0; i < chains.size(); ++i) {
    Reader chain = chains.element(i);
    chain.keys({"name", "description", "steps"}, false);
    chain.at("name").text();
    Reader steps = chain.at("steps");
    for (std::size_t s = 0; s < steps.size(); ++s) {
      Reader step = steps.element(s);
      step.keys({"title", "service", "partner_kind"}, false);
      step.at("title").text();
      step.at("service").choice(domain::services());
      if (step.has("partner_kind")) step.at("partner_kind").choice(domain::partner_kinds());
    }
    data.chains.push_back(chain.value());
  }
}

bool holds_data(const std::filesystem::path& folder) {
  std::error_code ec;
  return std::filesystem::is_regular_file(folder / kFiles[0], ec);
}

}  // namespace

DemoData load_demo_data(const std::filesystem::path& folder) {
  DemoData data;
  auto read = [&](const char* name, void (*reader)(const Reader&, DemoData&)) {
    const auto file = folder / name;
    const json document = parse_file(file);
    reader(Reader(document, file.string(), ""), data);
  };
  read(kFiles[0], read_population);
  read(kFiles[1], read_organisations);
  read(kFiles[2], read_case_texts);
  read(kFiles[3], read_partner_network);
  if (std::filesystem::exists(folder / "funding.json")) read("funding.json", read_funding);
  // Optional: a data folder of an older release has no steering.json.
  if (std::filesystem::exists(folder / "steering.json")) read("steering.json", read_steering);
  return data;
}

std::filesystem::path find_demo_data(const std::optional<std::filesystem::path>& explicit_folder,
                                     const std::filesystem::path& config_file) {
  if (explicit_folder) {
    if (!holds_data(*explicit_folder)) {
      throw DemoDataError(explicit_folder->string() + ": holds no demo data files (" + kFiles[0] +
                          " …)");
    }
    return *explicit_folder;
  }
  const auto beside_config = std::filesystem::absolute(config_file).parent_path() / "demo";
  if (holds_data(beside_config)) return beside_config;
  const auto installed =
      (boost::dll::program_location().parent_path().parent_path() / "share" / "kim" / "demo")
          .lexically_normal();
  if (holds_data(installed)) return installed;
  throw DemoDataError("no demo data files found in " + beside_config.string() + " or " +
                      installed.string() + "; name the folder with --demo-data");
}

}  // namespace kim::app
