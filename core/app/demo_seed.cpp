#include "app/demo_seed.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "auth/access.hpp"
#include "cases/service.hpp"
#include "domain/catalog.hpp"
#include "domain/validation.hpp"
#include "orgs/organisations.hpp"
#include "referrals/referrals.hpp"

namespace kim::app {

namespace {

using nlohmann::json;
using std::chrono::days;
using std::chrono::sys_days;
using store::Connection;
using store::SqlValue;
using Strings = std::vector<std::string>;

// ---- randomness and dates ---------------------------------------------------------------------

// Draws are made from the raw engine output instead of std::uniform_*_distribution, whose results
// differ between standard libraries: the same seed must give the same data everywhere.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  int between(int lo, int hi) {  // inclusive
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<int>(engine_() % span);
  }
  bool chance(double p) { return static_cast<double>(engine_() >> 11) * 0x1.0p-53 < p; }
  template <class T>
  const T& pick(const std::vector<T>& values) {
    return values[static_cast<std::size_t>(between(0, static_cast<int>(values.size()) - 1))];
  }
  std::size_t weighted(const std::vector<int>& weights) {
    int total = 0;
    for (int w : weights)
      total += w;
    int draw = between(0, total - 1);
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (draw < weights[i]) return i;
      draw -= weights[i];
    }
    return weights.size() - 1;
  }
  template <class T>
  void shuffle(std::vector<T>& values) {
    for (std::size_t i = values.size(); i > 1; --i) {
      std::swap(values[i - 1],
                values[static_cast<std::size_t>(between(0, static_cast<int>(i) - 1))]);
    }
  }
  // Same shape as the ids the case service makes ("per_" + 32 hex digits).
  std::string id(const char* prefix) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string id = prefix;
    id += '_';
    for (int half = 0; half < 2; ++half) {
      std::uint64_t value = engine_();
      for (int i = 0; i < 16; ++i, value >>= 4)
        id.push_back(kDigits[value & 0xf]);
    }
    return id;
  }

 private:
  std::mt19937_64 engine_;
};

std::string date_text(sys_days day) {
  const std::chrono::year_month_day ymd{day};
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buffer;
}

// The service's timestamp format (domain::now_timestamp), so string comparisons keep working.
std::string stamp_text(sys_days day, int second_of_day, int millis) {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%sT%02d:%02d:%02d.%03dZ", date_text(day).c_str(),
                second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60, millis);
  return buffer;
}

int year_of(sys_days day) {
  return static_cast<int>(std::chrono::year_month_day{day}.year());
}

// Strictly increasing timestamps along one case, in office hours.
class Timeline {
 public:
  explicit Timeline(Random& rng) : rng_(rng) {}
  std::string at(sys_days day) {
    if (day != day_) {
      day_ = day;
      second_ = rng_.between(8 * 3600, 10 * 3600);
    } else {
      second_ = std::min(second_ + rng_.between(300, 2400), 86399);
    }
    return stamp_text(day, second_, ++millis_ % 1000);
  }

 private:
  Random& rng_;
  sys_days day_{};
  int second_ = 0;
  int millis_ = 0;
};

// ---- the fictional population -----------------------------------------------------------------

struct Origin {
  const char* nationality;  // ISO 3166-1 alpha-2
  int weight;
  Strings male;
  Strings female;
  Strings family;
  std::vector<Strings> languages;  // alternatives, ISO 639
  Strings statuses;                // residence statuses; repeated entries weigh more
  int earliest_arrival_year;
};

const std::vector<Origin>& origins() {
  static const std::vector<Origin> values = {
      {"SY",
       22,
       {"Ahmad", "Mohammad", "Khaled", "Omar", "Yousef", "Hassan", "Rami", "Samer", "Tarek",
        "Bilal", "Firas", "Majd"},
       {"Rania", "Lina", "Hala", "Nour", "Amal", "Dima", "Rasha", "Yara", "Reem", "Lama", "Ruba"},
       {"Haddad", "Khatib", "Darwish", "Sabbagh", "Nasser", "Hamdan", "Qassem", "Shami", "Halabi",
        "Al-Hamwi", "Mardini", "Zaher"},
       {{"ar"}, {"ar", "kmr"}},
       {"residence_permit", "residence_permit", "residence_permit", "settlement_permit",
        "naturalised", "aufenthaltsgestattung"},
       2014},
      {"UA",
       20,
       {"Oleksandr", "Dmytro", "Andrii", "Serhii", "Mykola", "Taras", "Yurii", "Bohdan"},
       {"Olena", "Iryna", "Kateryna", "Oksana", "Tetiana", "Nataliia", "Yuliia", "Viktoriia",
        "Halyna"},
       {"Kovalenko", "Bondarenko", "Shevchuk", "Tkachenko", "Melnyk", "Kravets", "Hrytsenko",
        "Moroz", "Lysenko", "Savchuk"},
       {{"uk"}, {"uk", "ru"}, {"ru", "uk"}},
       {"residence_permit"},
       2022},
      {"AF",
       14,
       {"Farid", "Jawad", "Mustafa", "Naveed", "Habib", "Rahim", "Zabiullah", "Sohail", "Wahid"},
       {"Zahra", "Farzana", "Mariam", "Nargis", "Shabnam", "Parwana", "Soraya", "Fereshta"},
       {"Rahimi", "Ahmadi", "Hakimi", "Karimi", "Noori", "Sultani", "Wardak", "Hashimi", "Popal",
        "Stanikzai"},
       {{"prs"}, {"ps"}, {"prs", "ps"}},
       {"residence_permit", "residence_permit", "aufenthaltsgestattung", "duldung"},
       2015},
      {"TR",
       10,
       {"Mehmet", "Emre", "Murat", "Serkan", "Yusuf", "Burak", "Kerem", "Deniz"},
       {"Ayşe", "Elif", "Zeynep", "Fatma", "Esra", "Derya", "Gülşen", "Merve"},
       {"Yıldız", "Öztürk", "Kaya", "Demir", "Şahin", "Aydın", "Çelik", "Arslan", "Doğan"},
       {{"tr"}, {"tr", "kmr"}},
       {"aufenthaltsgestattung", "aufenthaltsgestattung", "residence_permit", "settlement_permit"},
       2016},
      {"IQ",
       9,
       {"Ali", "Haidar", "Karim", "Sami", "Hussein", "Dilshad", "Rebwar"},
       {"Zainab", "Noor", "Shaima", "Hawre", "Shilan", "Tara", "Huda"},
       {"Rashid", "Mahmoud", "Aziz", "Saleh", "Kareem", "Jabbar", "Ismail", "Sherwani"},
       {{"ar"}, {"ckb"}, {"kmr", "ar"}},
       {"residence_permit", "residence_permit", "duldung", "settlement_permit", "naturalised"},
       2014},
      {"ER",
       6,
       {"Tesfay", "Yonas", "Mehari", "Kidane", "Semere", "Filmon", "Amanuel"},
       {"Selam", "Helen", "Saba", "Senait", "Rahwa", "Luwam", "Yodit"},
       {"Tesfamariam", "Gebremedhin", "Haile", "Berhane", "Woldu", "Kahsay", "Ghebreyesus"},
       {{"ti"}, {"ti", "ar"}},
       {"residence_permit", "residence_permit", "aufenthaltsgestattung"},
       2015},
      {"PL",
       5,
       {"Piotr", "Tomasz", "Krzysztof", "Paweł", "Marek", "Łukasz"},
       {"Agnieszka", "Katarzyna", "Magdalena", "Joanna", "Ewa", "Małgorzata"},
       {"Nowak", "Kowalczyk", "Wójcik", "Mazur", "Krawczyk", "Pawlak", "Dudek"},
       {{"pl"}},
       {"eu_free_movement"},
       2016},
      {"RO",
       4,
       {"Andrei", "Ionuț", "Mihai", "Florin", "Cristian"},
       {"Elena", "Ioana", "Andreea", "Mihaela", "Simona"},
       {"Popescu", "Ionescu", "Stan", "Dumitru", "Munteanu", "Lungu"},
       {{"ro"}},
       {"eu_free_movement"},
       2017},
      {"IR",
       4,
       {"Reza", "Arash", "Behnam", "Kaveh", "Navid"},
       {"Shirin", "Leila", "Maryam", "Parisa", "Niloufar"},
       {"Hosseini", "Rezaei", "Moradi", "Kazemi", "Jafari", "Sadeghi"},
       {{"fa"}},
       {"aufenthaltsgestattung", "residence_permit", "duldung"},
       2017},
      {"GN",
       3,
       {"Mamadou", "Ibrahima", "Alpha", "Ousmane", "Thierno"},
       {"Mariama", "Aissatou", "Fatoumata", "Kadiatou", "Hawa"},
       {"Diallo", "Barry", "Bah", "Sow", "Camara", "Baldé"},
       {{"fr", "ff"}, {"fr"}},
       {"duldung", "aufenthaltsgestattung", "residence_permit"},
       2016},
      {"SO",
       3,
       {"Abdirahman", "Abdullahi", "Mohamed", "Hamza", "Liban"},
       {"Hodan", "Fartun", "Ifrah", "Sahra", "Nasra"},
       {"Warsame", "Farah", "Abdi", "Jama", "Osman", "Hirsi"},
       {{"so"}, {"so", "ar"}},
       {"residence_permit", "aufenthaltsgestattung"},
       2016},
  };
  return values;
}

// Rough population of each town in thousands: persons are spread like the county's population.
int town_weight(std::string_view town) {
  static const std::vector<std::pair<std::string_view, int>> weights = {
      {"Altenberge", 10}, {"Emsdetten", 36},  {"Greven", 38},        {"Hörstel", 20},
      {"Hopsten", 8},     {"Horstmar", 7},    {"Ibbenbüren", 52},    {"Ladbergen", 7},
      {"Laer", 7},        {"Lengerich", 23},  {"Lienen", 9},         {"Lotte", 14},
      {"Metelen", 6},     {"Mettingen", 12},  {"Neuenkirchen", 14},  {"Nordwalde", 10},
      {"Ochtrup", 20},    {"Recke", 11},      {"Rheine", 77},        {"Saerbeck", 7},
      {"Steinfurt", 34},  {"Tecklenburg", 9}, {"Westerkappeln", 11}, {"Wettringen", 8}};
  for (const auto& [name, weight] : weights) {
    if (name == town) return weight;
  }
  return 8;  // a town added to the catalogue later still gets persons
}

// ---- organisations and staff ------------------------------------------------------------------

struct OrgSpec {
  const char* slug;
  const char* name;
  const char* kind;
  const char* town;
  const char* supervisor;
  bool team_access;
  Strings serves;           // towns whose participants this organisation takes on
  Strings case_managers;    // user names
  const char* coordinator;  // user name, coordinating offices only
};

// Coordinating offices first: the welfare organisations name them as supervisors. Rheine has its
// own coordinating office, which supervises the organisation working in Rheine; the county's
// office supervises the others.
const std::vector<OrgSpec>& org_specs() {
  static const std::vector<OrgSpec> values = {
      {"ki-kreis-steinfurt",
       "Kommunales Integrationszentrum Kreis Steinfurt",
       "coordinating_office",
       "Steinfurt",
       "",
       false,
       {},
       {},
       "s.lammers"},
      {"stadt-rheine-ko",
       "Stadt Rheine, koordinierende Stelle KIM",
       "coordinating_office",
       "Rheine",
       "",
       false,
       {},
       {},
       "j.overesch"},
      {"caritas-rheine",
       "Caritasverband Rheine",
       "welfare_organisation",
       "Rheine",
       "stadt-rheine-ko",
       false,
       {"Rheine"},
       {"a.terhaar", "m.brinkmann", "l.wessels"},
       ""},
      {"diakonie-ibbenbueren",
       "Diakonie im Tecklenburger Land, Ibbenbüren",
       "welfare_organisation",
       "Ibbenbüren",
       "ki-kreis-steinfurt",
       true,
       {"Ibbenbüren", "Hörstel", "Hopsten", "Recke", "Mettingen", "Westerkappeln", "Lotte"},
       {"k.hoelscher", "t.ahlers", "f.koetter", "n.schulte"},
       ""},
      {"awo-lengerich",
       "AWO Lengerich",
       "welfare_organisation",
       "Lengerich",
       "ki-kreis-steinfurt",
       false,
       {"Lengerich", "Tecklenburg", "Lienen", "Ladbergen"},
       {"b.vennemann", "r.kipp"},
       ""},
      {"drk-greven",
       "DRK Greven",
       "welfare_organisation",
       "Greven",
       "ki-kreis-steinfurt",
       false,
       {"Greven", "Saerbeck", "Altenberge", "Nordwalde"},
       {"c.roling", "h.sudhoff"},
       ""},
      {"caritas-emsdetten",
       "Caritasverband Emsdetten-Greven",
       "welfare_organisation",
       "Emsdetten",
       "ki-kreis-steinfurt",
       false,
       {"Emsdetten", "Neuenkirchen", "Wettringen"},
       {"e.bruening", "p.hesselmann"},
       ""},
      {"drk-steinfurt",
       "DRK Steinfurt",
       "welfare_organisation",
       "Steinfurt",
       "ki-kreis-steinfurt",
       false,
       {"Steinfurt", "Ochtrup", "Metelen", "Horstmar", "Laer"},
       {"g.elfering", "w.tenhagen"},
       ""},
  };
  return values;
}

constexpr const char* kAuditor = "d.pieper";

struct CaseManager {
  std::int64_t user_id;
  std::int64_t organisation_id;
};

struct Organisation {
  std::int64_t id = 0;
  bool team_access = false;
  std::vector<CaseManager> case_managers;
  std::size_t next = 0;  // round robin: caseloads stay even
};

// ---- texts ------------------------------------------------------------------------------------

struct DomainTexts {
  std::string domain;
  Strings summaries;  // for high, medium, low need
  Strings goals;
  Strings tasks;
};

const std::vector<DomainTexts>& domain_texts() {
  static const std::vector<DomainTexts> values = {
      {"residence_status",
       {"Aufenthaltserlaubnis läuft in wenigen Wochen aus, Verlängerung ungeklärt.",
        "Verlängerung steht im Laufe des Jahres an, Unterlagen unvollständig.",
        "Status gesichert, Fragen zur Niederlassungserlaubnis."},
       {"Aufenthaltserlaubnis verlängern lassen", "Niederlassungserlaubnis beantragen",
        "Passbeschaffung klären"},
       {"Termin bei der Ausländerbehörde buchen", "Nachweise für die Verlängerung zusammenstellen",
        "Beratung zur Passbeschaffung vermitteln"}},
      {"language",
       {"Kaum Deutschkenntnisse, bisher kein Kurs.", "A2 erreicht, B1-Kurs noch nicht begonnen.",
        "B1 vorhanden, berufsbezogenes Deutsch gewünscht."},
       {"Integrationskurs beginnen", "Deutschkurs B1 abschließen", "Berufssprachkurs B2 besuchen"},
       {"Anmeldung beim Integrationskursträger begleiten", "Berechtigungsschein beantragen",
        "Kinderbetreuung während des Kurses klären"}},
      {"school_education",
       {"Kinder ohne Schulplatz seit der Ankunft.", "Schulabschluss aus dem Herkunftsland unklar.",
        "Kinder gut angekommen, Hausaufgabenhilfe gewünscht."},
       {"Schulplatz für die Kinder sichern", "Schulabschluss nachholen",
        "Hausaufgabenhilfe organisieren"},
       {"Anmeldung an der Schule begleiten", "Beratung an der VHS vereinbaren",
        "Kontakt zur Schulsozialarbeit herstellen"}},
      {"vocational_training_work",
       {"Ohne Arbeit, keine Bewerbungsunterlagen.", "Minijob, Wunsch nach Ausbildung.",
        "Arbeitsstelle vorhanden, Wunsch nach Weiterbildung."},
       {"Ausbildungsplatz finden", "Arbeitsstelle im erlernten Beruf finden",
        "Weiterbildung zur Fachkraft beginnen"},
       {"Bewerbungsunterlagen erstellen", "Profil bei der Agentur für Arbeit anlegen",
        "Praktikumsplatz anfragen"}},
      {"recognition",
       {"Berufsabschluss vorhanden, nicht anerkannt, Zeugnisse fehlen.",
        "Anerkennungsverfahren begonnen, Ausgleichsmaßnahme offen.", "Teilanerkennung liegt vor."},
       {"Anerkennung des Berufsabschlusses erreichen", "Ausgleichsmaßnahme abschließen"},
       {"Zeugnisse übersetzen lassen", "Antrag bei der zuständigen Stelle einreichen",
        "Termin bei der Anerkennungsberatung vereinbaren"}},
      {"housing",
       {"Lebt mit Familie in der Gemeinschaftsunterkunft.", "Wohnung zu klein für die Familie.",
        "Wohnung angemessen, Fragen zum Mietvertrag."},
       {"Eigene Wohnung finden", "Größere Wohnung finden"},
       {"Wohnberechtigungsschein beantragen", "Wohnungsanzeigen gemeinsam durchgehen",
        "Kontakt zur Wohnungsbaugesellschaft herstellen"}},
      {"health",
       {"Keine hausärztliche Versorgung, chronische Erkrankung.",
        "Belastung nach der Flucht, Wunsch nach Gesprächen.", "Vorsorgeuntersuchungen ausstehend."},
       {"Hausärztliche Versorgung sicherstellen", "Psychosoziale Unterstützung aufnehmen"},
       {"Hausarztpraxis mit freien Plätzen suchen", "Kontakt zum Psychosozialen Zentrum herstellen",
        "Krankenversicherung klären"}},
      {"family_childcare",
       {"Kein Betreuungsplatz, Kurs deshalb nicht möglich.", "Kita-Platz ab dem Sommer nötig.",
        "Betreuung geregelt, Fragen zur Ferienbetreuung."},
       {"Kita-Platz für das jüngste Kind finden", "Betreuung während des Kurses sichern"},
       {"Anmeldung im Kita-Portal", "Gespräch mit dem Familienbüro vereinbaren"}},
      {"income_benefits",
       {"Leistungsanspruch ungeklärt, Mietrückstand.", "Kindergeld noch nicht beantragt.",
        "Leistungen laufen, Weiterbewilligung steht an."},
       {"Lebensunterhalt sichern", "Kindergeld und Kinderzuschlag erhalten"},
       {"Kindergeldantrag stellen", "Weiterbewilligungsantrag beim Jobcenter stellen",
        "Wohngeldanspruch prüfen"}},
      {"social_participation",
       {"Kaum Kontakte außerhalb der Familie.", "Wunsch nach Anschluss im Ort.",
        "Im Sportverein, Interesse an Ehrenamt."},
       {"Anschluss an einen Verein finden", "Ehrenamtliches Engagement beginnen"},
       {"Kontakt zum Sportverein herstellen", "Begegnungscafé gemeinsam besuchen",
        "Patenschaft vermitteln"}},
  };
  return values;
}

const DomainTexts& texts_for(const std::string& life_domain) {
  for (const auto& texts : domain_texts()) {
    if (texts.domain == life_domain) return texts;
  }
  return domain_texts().front();
}

struct NoteText {
  const char* kind;
  const char* text;
};

const std::vector<NoteText>& phase_notes(const std::string& phase) {
  static const std::vector<NoteText> access = {
      {"phone", "Erstkontakt über die Migrationsberatung, Termin für ein Erstgespräch vereinbart."},
      {"phone", "Anfrage über das Jobcenter weitergeleitet, Rückruf vereinbart."},
      {"other", "Kontakt über den Sprachkursträger, Interesse an Begleitung geäußert."}};
  static const std::vector<NoteText> intake = {
      {"meeting", "Erstgespräch im Büro mit Sprachmittlung, Einwilligung unterschrieben."},
      {"meeting", "Erstgespräch: Situation der Familie geschildert, nächste Schritte besprochen."},
      {"home_visit", "Erstgespräch in der Unterkunft, Unterlagen gesichtet."}};
  static const std::vector<NoteText> assessment = {
      {"meeting", "Gespräch zur Bedarfsklärung in allen Lebensbereichen."},
      {"home_visit", "Hausbesuch: Wohnsituation und Bedarf der Kinder besprochen."},
      {"meeting", "Zeugnisse und Nachweise für die Anerkennung gesichtet."}};
  static const std::vector<NoteText> planning = {
      {"meeting", "Hilfeplan gemeinsam erarbeitet und Ziele vereinbart."},
      {"meeting", "Ziele und Zuständigkeiten besprochen, Termine festgelegt."}};
  static const std::vector<NoteText> linking = {
      {"accompaniment", "Begleitung zur Ausländerbehörde, Antrag abgegeben."},
      {"accompaniment", "Begleitung zum Jobcenter, Antrag gestellt."},
      {"phone", "Telefonat mit dem Kursträger, Platz reserviert."},
      {"phone", "Termin bei der Anerkennungsberatung vermittelt."}};
  static const std::vector<NoteText> monitoring = {
      {"phone", "Telefonat: Kurs läuft gut, Prüfung im Frühjahr."},
      {"meeting", "Gespräch zum Stand der Ziele, Wohnungssuche weiterhin schwierig."},
      {"phone", "Kurzer Austausch, keine neuen Bedarfe."},
      {"meeting", "Rückmeldung der Schule besprochen, Kinder gut angekommen."},
      {"home_visit", "Hausbesuch: Umzug in die neue Wohnung gelungen."}};
  static const std::vector<NoteText> reassessment = {
      {"meeting", "Standortbestimmung: Ziele überprüft, neue Bedarfe aufgenommen."}};
  if (phase == "access") return access;
  if (phase == "intake") return intake;
  if (phase == "assessment") return assessment;
  if (phase == "planning") return planning;
  if (phase == "linking") return linking;
  if (phase == "reassessment") return reassessment;
  return monitoring;
}

const char* closure_note(const std::string& reason) {
  if (reason == "goals_reached") return "Ziele erreicht, Kontakt bei neuem Bedarf möglich.";
  if (reason == "moved_away") return "In einen anderen Kreis verzogen, Übergabe angeboten.";
  if (reason == "referred_to_other_case_management")
    return "An das Fallmanagement des Jobcenters übergeben.";
  if (reason == "no_contact") return "Nach mehreren Versuchen kein Kontakt mehr möglich.";
  if (reason == "declined") return "Weitere Begleitung nicht gewünscht.";
  return "Abschluss aus sonstigen Gründen.";
}

const Strings& intake_tasks() {
  static const Strings values = {"Einwilligung zur Datenweitergabe einholen",
                                 "Kopien der Aufenthaltsdokumente anfertigen",
                                 "Sprachmittlung für das nächste Gespräch organisieren"};
  return values;
}

const Strings& monitoring_tasks() {
  static const Strings values = {"Rückmeldung der Behörde nachfassen",
                                 "Termin zur Zwischenbilanz vereinbaren",
                                 "Bescheid gemeinsam durchsehen"};
  return values;
}

// ---- one case, planned on relative days, then laid out on the calendar -----------------------

struct Goal {
  std::string id;
  std::string life_domain;
  std::string description;
  int day = 0;
  int due_in = 0;
  std::string status = "open";
  int status_day = -1;
  bool keep = false;  // a goal that carried the case into monitoring is never dropped
};

struct Task {
  std::string id;
  int goal = -1;  // index into goals
  std::string description;
  int day = 0;
  int due_in = 0;
  int done_day = -1;
  bool current_phase = false;
};

struct Assessment {
  std::string id;
  std::string kind;
  int day = 0;
  std::vector<std::tuple<std::string, std::string, std::string>> domains;
};

struct Note {
  std::string id;
  std::string kind;
  std::string text;
  int day = 0;
};

struct Transition {
  std::string from;
  std::string to;
  std::string reason;
  std::string note;
  int day = 0;
};

// Everything that happens in a case, in order. `order` interleaves the kinds so timestamps
// follow the sequence in which the service would have accepted the writes.
struct CasePlan {
  std::string phase;
  std::vector<Transition> transitions;
  std::vector<Assessment> assessments;
  std::vector<Goal> goals;
  std::vector<Task> tasks;
  std::vector<Note> notes;
  std::vector<std::pair<char, std::size_t>> order;  // ('t'ransition|'a'|'g'|'k' task|'n', index)
  int day = 0;
};

// The phases a case went through to reach `target`, all allowed moves of the cycle.
Strings path_to(const std::string& target, Random& rng, bool reopened, bool second_round) {
  Strings path;
  path.push_back(target == "access" || rng.chance(0.35) ? "access" : "intake");
  if (target == "access") return path;
  if (path.back() == "access") path.push_back("intake");
  if (target == "intake") return path;
  if (reopened) path.push_back("closed");  // contact lost once, then reopened into assessment
  path.push_back("assessment");
  if (target == "assessment") return path;
  path.push_back("planning");
  if (target == "planning" && !second_round) return path;
  if (target == "linking") {
    path.push_back("linking");
    return path;
  }
  if (rng.chance(0.6)) path.push_back("linking");
  path.push_back("monitoring");
  if (second_round) {
    path.push_back("reassessment");
    path.push_back("planning");
    if (target == "planning") return path;
    if (rng.chance(0.3)) path.push_back("linking");
    path.push_back("monitoring");
  }
  if (target == "monitoring") {
    if (rng.chance(0.15)) {
      path.push_back("linking");
      path.push_back("monitoring");
    }
    return path;
  }
  path.push_back("reassessment");
  return path;
}

class CasePlanner {
 public:
  explicit CasePlanner(Random& rng) : rng_(rng) {}

  CasePlan plan(const std::string& target) {
    plan_ = CasePlan{};
    Strings path;
    std::string closure_reason;
    if (target == "closed") {
      static const Strings before = {"access",  "intake",     "assessment",  "planning",
                                     "linking", "monitoring", "reassessment"};
      const auto& last = before[rng_.weighted({6, 10, 8, 6, 8, 20, 6})];
      path = path_to(last, rng_, false, false);
      closure_reason = closing_reason(path.back());
      path.push_back("closed");
    } else {
      const bool later = target != "access" && target != "intake";
      const bool round_two =
          (target == "planning" || target == "monitoring" || target == "reassessment") &&
          rng_.chance(0.25);
      path = path_to(target, rng_, later && rng_.chance(0.05), round_two);
    }
    for (std::size_t i = 0; i < path.size(); ++i) {
      const bool final = i + 1 == path.size();
      const std::string next = final ? "" : path[i + 1];
      activity(path[i], next, final);
      if (final) break;
      plan_.day += rng_.between(2, 21);
      Transition transition{path[i], next, "", "", plan_.day};
      if (next == "closed") {
        transition.reason = final_index(i + 1, path) ? closure_reason : "no_contact";
        transition.note = closure_note(transition.reason);
      } else if (path[i] == "closed") {
        transition.note = "Person hat sich wieder gemeldet, Fall wieder aufgenommen.";
      }
      plan_.transitions.push_back(transition);
      plan_.order.emplace_back('t', plan_.transitions.size() - 1);
    }
    plan_.phase = path.back();
    settle();
    return plan_;
  }

 private:
  static bool final_index(std::size_t i, const Strings& path) { return i + 1 == path.size(); }

  std::string closing_reason(const std::string& phase) {
    if (phase == "access" || phase == "intake") {
      return rng_.pick(Strings{"no_contact", "no_contact", "declined", "moved_away", "other"});
    }
    if (phase == "assessment" || phase == "planning") {
      return rng_.pick(
          Strings{"declined", "moved_away", "referred_to_other_case_management", "no_contact"});
    }
    return rng_.pick(Strings{"goals_reached", "goals_reached", "goals_reached", "moved_away",
                             "referred_to_other_case_management", "no_contact", "other"});
  }

  void note(const std::string& phase, double probability) {
    if (!rng_.chance(probability)) return;
    const auto& text = rng_.pick(phase_notes(phase));
    plan_.notes.push_back({rng_.id("note"), text.kind, text.text, plan_.day});
    plan_.order.emplace_back('n', plan_.notes.size() - 1);
  }

  void task(const std::string& description, int goal, bool final) {
    Task task{rng_.id("task"), goal, description, plan_.day, rng_.between(7, 42), -1, final};
    plan_.tasks.push_back(task);
    plan_.order.emplace_back('k', plan_.tasks.size() - 1);
  }

  void assessment(const std::string& kind) {
    Assessment assessment{rng_.id("asm"), kind, plan_.day, {}};
    Strings domains = domain::life_domains();
    rng_.shuffle(domains);
    static const Strings levels = {"high", "medium", "low", "none"};
    const int count = rng_.between(3, 6);
    for (int i = 0; i < count; ++i) {
      const std::size_t level = rng_.weighted({30, 35, 25, 10});
      std::string summary =
          level < 3 ? texts_for(domains[i]).summaries[level] : "Kein Unterstützungsbedarf.";
      assessment.domains.emplace_back(domains[i], levels[level], summary);
    }
    plan_.assessments.push_back(assessment);
    plan_.order.emplace_back('a', plan_.assessments.size() - 1);
  }

  void goals(int count, bool final) {
    // Goals follow the needs of the latest assessment, the highest first.
    Strings needs;
    if (!plan_.assessments.empty()) {
      for (const char* level : {"high", "medium"}) {
        for (const auto& [life_domain, need, summary] : plan_.assessments.back().domains) {
          if (need == level) needs.push_back(life_domain);
        }
      }
      if (needs.empty()) needs.push_back(std::get<0>(plan_.assessments.back().domains.front()));
    } else {
      needs.push_back("language");
    }
    count = std::min(count, static_cast<int>(needs.size()));
    for (int i = 0; i < count; ++i) {
      const auto& texts = texts_for(needs[static_cast<std::size_t>(i)]);
      Goal goal{rng_.id("goal"),
                texts.domain,
                rng_.pick(texts.goals),
                plan_.day,
                rng_.between(90, 365),
                "open",
                -1,
                i == 0};
      plan_.goals.push_back(goal);
      plan_.order.emplace_back('g', plan_.goals.size() - 1);
      const int goal_index = static_cast<int>(plan_.goals.size()) - 1;
      const int tasks = rng_.between(0, 2);
      for (int t = 0; t < tasks; ++t)
        task(rng_.pick(texts.tasks), goal_index, final);
      plan_.day += rng_.between(0, 2);
    }
  }

  // What happens while the case is in `phase` before it moves on to `next` (or stays there).
  void activity(const std::string& phase, const std::string& next, bool final) {
    if (phase == "closed") return;
    if (phase == "access") {
      plan_.day += rng_.between(0, 3);
      note(phase, 0.7);
    } else if (phase == "intake") {
      plan_.day += rng_.between(1, 10);
      note(phase, 0.9);
      if (rng_.chance(0.5)) task(rng_.pick(intake_tasks()), -1, final);
    } else if (phase == "assessment" || phase == "reassessment") {
      plan_.day += rng_.between(2, 20);
      note(phase, 0.6);
      if (next == "planning" || (final && rng_.chance(0.5)) ||
          (next == "closed" && rng_.chance(0.4))) {
        plan_.day += rng_.between(0, 7);
        assessment(phase);
      }
    } else if (phase == "planning") {
      plan_.day += rng_.between(1, 14);
      note(phase, 0.6);
      if (next == "linking" || next == "monitoring" || (final && rng_.chance(0.65)) ||
          (next == "closed" && rng_.chance(0.5))) {
        const bool round_two = plan_.goals.size() > 0;
        goals(rng_.between(1, round_two ? 2 : 3), final);
      }
    } else if (phase == "linking") {
      plan_.day += rng_.between(3, 20);
      const int count = rng_.between(1, 2);
      for (int i = 0; i < count && !plan_.goals.empty(); ++i) {
        const int goal = rng_.between(0, static_cast<int>(plan_.goals.size()) - 1);
        task(rng_.pick(texts_for(plan_.goals[static_cast<std::size_t>(goal)].life_domain).tasks),
             goal, final);
      }
      note(phase, 0.7);
    } else if (phase == "monitoring") {
      const int contacts = final ? rng_.between(1, 4) : rng_.between(1, 3);
      for (int i = 0; i < contacts; ++i) {
        plan_.day += rng_.between(14, 50);
        note(phase, 0.85);
        if (rng_.chance(0.25)) task(rng_.pick(monitoring_tasks()), -1, final);
      }
    }
  }

  // Outcomes decided once the whole course is known: which tasks were done and when, what became
  // of the goals. Nothing happens after the last planned day (for a closed case: its closure).
  void settle() {
    const int end = plan_.day;
    const bool closed = plan_.phase == "closed";
    const std::string reason = closed ? plan_.transitions.back().reason : "";
    for (auto& task : plan_.tasks) {
      if (task.day >= end) continue;
      const bool done = closed || (task.current_phase ? rng_.chance(0.5) : rng_.chance(0.95));
      if (done) task.done_day = std::min(task.day + rng_.between(1, task.due_in + 14), end);
    }
    for (auto& goal : plan_.goals) {
      // A goal changes before the case closes (changing a goal needs an open case).
      const int latest = closed ? end - 1 : end;
      if (latest < goal.day + 1) continue;
      std::string status = "open";
      if (reason == "goals_reached") {
        status = rng_.chance(0.7) ? "achieved" : "partly_achieved";
      } else if (closed) {
        status = rng_.pick(Strings{"open", "open", "dropped", "partly_achieved"});
      } else if (plan_.phase == "monitoring" || plan_.phase == "reassessment" ||
                 end - goal.day > 120) {
        status = rng_.pick(
            Strings{"open", "open", "open", "achieved", "achieved", "partly_achieved", "dropped"});
      }
      if (status == "dropped" && goal.keep) status = "open";
      if (status == "open") continue;
      goal.status = status;
      goal.status_day = std::min(goal.day + rng_.between(20, 200), latest);
    }
  }

  Random& rng_;
  CasePlan plan_;
};

// ---- refusal ----------------------------------------------------------------------------------

std::int64_t count(Connection& db, const char* sql) {
  return db.query(sql)[0]["n"].get<std::int64_t>();
}

bool has_marker(Connection& db) {
  return !db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'demo_marker'")
              .empty();
}

// Throws DemoRefused unless the database is empty: the demo never mixes into real data, and a
// demo database is seeded only once.
void require_empty(Connection& db, const std::string& path) {
  if (has_marker(db)) {
    auto rows = db.query("SELECT seed, started_at, completed_at FROM demo_marker LIMIT 1");
    if (!rows.empty() && rows[0]["completed_at"].is_null()) {
      throw DemoRefused("the database " + path +
                        " holds an incomplete demo data set (seeding was interrupted); delete "
                        "the database file and seed again");
    }
    std::string when = rows.empty() ? ""
                                    : " (seed " + rows[0]["seed"].get<std::string>() + ", " +
                                          rows[0]["started_at"].get<std::string>() + ")";
    throw DemoRefused("the database " + path + " already holds demo data" + when +
                      "; to start over, delete the database file and seed again");
  }
  const auto persons = count(db, "SELECT count(*) AS n FROM persons");
  const auto cases = count(db, "SELECT count(*) AS n FROM cases");
  const auto users =
      count(db, "SELECT count(*) AS n FROM users WHERE NOT (name = 'admin' AND role = 'admin')");
  if (persons || cases || users) {
    throw DemoRefused("the database " + path + " holds real data (" + std::to_string(persons) +
                      " persons, " + std::to_string(cases) + " cases, " + std::to_string(users) +
                      " users besides admin); the demo never mixes into it. Seed a new, empty "
                      "database instead (another data_dir or database.file)");
  }
}

// ---- writing ----------------------------------------------------------------------------------

// A prepared INSERT run many times: one prepare per table instead of one per row.
class Insert {
 public:
  Insert(Connection& db, std::string_view sql) : statement_(db.prepare(sql)) {}
  void operator()(const std::vector<SqlValue>& values) {
    statement_.bind_all(values);
    statement_.step();
    statement_.reset();
  }

 private:
  store::Statement statement_;
};

SqlValue text_or_null(const std::string& text) {
  return text.empty() ? SqlValue(nullptr) : SqlValue(text);
}

// ---- the partner network in use: agreements, consents, referrals ------------------------------

// A case that reached linking or monitoring, when services are arranged: from that day until
// yesterday (or the day before its closure) a referral may happen. Recorded while the cases are
// written, used afterwards, so the partner network does not change the persons and cases a seed
// gives.
struct ReferralCandidate {
  std::string case_id;
  std::string person_id;
  std::string town;
  std::string phase;
  std::int64_t manager_id = 0;
  sys_days opened{};
  sys_days from{};
  sys_days until{};
  Strings goal_domains;
};

// The coordinating office's partner record: the party every demo agreement is made with.
constexpr const char* kNetworkHub = "ki-kreis-steinfurt";

struct AgreementSpec {
  const char* partner;
  const char* validity;  // "valid", "expired" (signed, valid_to in the past) or "draft"
  int from_month;
  const char* title;
  Strings services;
  Strings categories;  // what may go to the partner for the purpose "referral"; never health
  const char* hub_tasks;
  const char* hub_ends;
  const char* partner_tasks;
  const char* partner_ends;
  const char* handover_rule;
  bool open_ended = false;  // no valid_to
};

const std::vector<AgreementSpec>& agreement_specs() {
  static const std::vector<AgreementSpec> values = {
      {"jobcenter-kreis-steinfurt",
       "valid",
       1,
       "Kooperationsvereinbarung KIM – Jobcenter Kreis Steinfurt: Übergang in die "
       "Eingliederungsleistungen (SGB II)",
       {"sgb2_integration_services"},
       {"identity", "contact", "language_level", "education_work"},
       "Klärt im KIM-Fallmanagement den Bedarf, holt die schriftliche Einwilligung ein, "
       "übermittelt die Überleitung mit den vereinbarten Daten und hält bis zum Erstgespräch "
       "Kontakt zur Person.",
       "Mit der Annahme durch das Jobcenter für die berufliche Eingliederung; die Begleitung in "
       "den übrigen Lebensbereichen führt das KIM-Fallmanagement weiter.",
       "Lädt innerhalb von 14 Tagen zum Erstgespräch ein, prüft die Leistungen zur Eingliederung "
       "in Arbeit (§§ 16 ff. SGB II) und meldet Annahme, Ablehnung und Abschluss zurück.",
       "Mit dem Ende der Eingliederungsleistung oder des Leistungsbezugs; das Jobcenter führt ein "
       "eigenes Fallmanagement nach SGB II.",
       "Überleitung nur über KIM und nur mit Einwilligung der Person. Das Jobcenter bestätigt den "
       "Eingang und teilt innerhalb von 14 Tagen mit, ob es die Person übernimmt. "
       "Gesundheitsdaten werden nicht übermittelt.",
       true},
      {"agentur-fuer-arbeit-rheine",
       "valid",
       4,
       "Kooperationsvereinbarung KIM – Agentur für Arbeit Rheine: Arbeitsvermittlung und "
       "Berufsberatung (SGB III)",
       {"sgb3_placement", "vocational_guidance"},
       {"identity", "contact", "language_level", "education_work"},
       "Klärt Sprachstand, Schul- und Berufsabschlüsse, holt die Einwilligung ein und bereitet "
       "die Person auf den Termin vor (Unterlagen, Sprachmittlung).",
       "Mit dem ersten Termin bei der Agentur; danach nur noch Rückfragen der Person.",
       "Berufsberatung und Arbeitsvermittlung nach SGB III, Prüfung von Förderleistungen, "
       "Rückmeldung des Ergebnisses an die koordinierende Stelle.",
       "Mit der Aufnahme einer Beschäftigung oder Ausbildung oder dem Übergang in das SGB II.",
       "Terminanfrage über KIM; die Agentur vergibt den Termin und meldet Annahme oder Ablehnung "
       "mit Begründung. Übermittelt werden nur Identität, Kontakt, Sprachstand und "
       "Bildungs-/Berufsdaten."},
      {"vhs-rheine",
       "valid",
       8,
       "Kooperationsvereinbarung KIM – VHS Rheine: Integrations- und Sprachkurse",
       {"integration_course", "language_course"},
       {"identity", "contact", "language_level"},
       "Klärt Berechtigung und Sprachstand, holt die Einwilligung ein und meldet die Person zum "
       "Einstufungstest an.",
       "Mit der Kursanmeldung; bei Abbruch nimmt das KIM-Fallmanagement die Begleitung wieder auf.",
       "Einstufungstest, Platz im passenden Integrations- oder Sprachkurs, Rückmeldung zu "
       "Kursbeginn, Abbruch und Prüfungsergebnis.",
       "Mit dem Kursende und der Mitteilung des Prüfungsergebnisses.",
       "Anmeldung über KIM mit Einwilligung; die VHS bestätigt den Testtermin binnen einer Woche. "
       "Übermittelt werden nur Identität, Kontakt und Sprachstand."},
      {"anerkennungsberatung-kreis-steinfurt",
       "valid",
       10,
       "Kooperationsvereinbarung KIM – Anerkennungsberatung: Beratung zur Anerkennung "
       "ausländischer Abschlüsse",
       {"recognition_counselling"},
       {"identity", "contact", "language_level", "education_work"},
       "Sammelt mit der Person Zeugnisse und Nachweise, holt die Einwilligung ein und vermittelt "
       "den Beratungstermin.",
       "Mit dem Beratungstermin; Übersetzungen und Anträge begleitet das KIM-Fallmanagement "
       "weiter.",
       "Beratung zu Anerkennungsverfahren, zuständiger Stelle und Anpassungsqualifizierung; "
       "Rückmeldung des Ergebnisses.",
       "Mit dem Abschluss der Beratung oder der Antragstellung bei der zuständigen Stelle.",
       "Terminvermittlung über KIM mit Einwilligung; Zeugnisse bringt die Person selbst mit. "
       "Übermittelt werden Identität, Kontakt, Sprachstand und Bildungs-/Berufsdaten."},
      {"auslaenderbehoerde-kreis-steinfurt",
       "expired",
       1,
       "Vereinbarung zur Terminvermittlung bei der Ausländerbehörde (Pilotphase)",
       {"residence_matters"},
       {"identity", "contact", "residence_status"},
       "Vermittelt Termine für Fragen zum Aufenthalt und bereitet die Unterlagen mit der Person "
       "vor.",
       "Mit der Terminvergabe.",
       "Vergibt Termine innerhalb von vier Wochen und meldet zurück, welche Unterlagen fehlen.",
       "Mit der Entscheidung über den Antrag.",
       "Terminanfrage über KIM während der Pilotphase; danach neu zu vereinbaren."},
      {"jugendamt-kreis-steinfurt",
       "draft",
       1,
       "Entwurf: Kooperation KIM – Jugendamt Kreis Steinfurt (Kita-Platz, Hilfen für Familien)",
       {"childcare_place", "youth_welfare_support"},
       {"identity", "contact", "family"},
       "Klärt den Betreuungsbedarf der Familie, holt die Einwilligung ein und meldet den Bedarf.",
       "Mit der Annahme durch das Jugendamt.",
       "Prüft den Anspruch auf einen Betreuungsplatz und Hilfen nach SGB VIII, meldet das Ergebnis "
       "zurück.",
       "Mit der Platzvergabe oder dem Ende der Hilfe; eigenes Fallmanagement nach SGB VIII.",
       "Noch in Abstimmung mit dem Jugendamt; bis zur Unterzeichnung keine Überleitung."},
  };
  return values;
}

// Which goals make a service the obvious next step.
bool fits(const std::string& service, const std::string& life_domain) {
  if (service == "integration_course" || service == "language_course") {
    return life_domain == "language";
  }
  if (service == "sgb2_integration_services") {
    return life_domain == "vocational_training_work" || life_domain == "income_benefits";
  }
  if (service == "sgb3_placement") return life_domain == "vocational_training_work";
  if (service == "vocational_guidance") {
    return life_domain == "vocational_training_work" || life_domain == "school_education";
  }
  if (service == "recognition_counselling") return life_domain == "recognition";
  return false;
}

const Strings& referral_messages(const std::string& service) {
  static const std::map<std::string, Strings> values = {
      {"sgb2_integration_services",
       {"Bitte um Einladung zum Erstgespräch zur beruflichen Eingliederung.",
        "Person möchte möglichst bald arbeiten; bitte um Termin mit Sprachmittlung."}},
      {"sgb3_placement",
       {"Bitte um einen Beratungstermin zur Arbeitsvermittlung.",
        "Berufserfahrung im Herkunftsland, bitte um Termin bei der Arbeitsvermittlung."}},
      {"vocational_guidance",
       {"Interesse an einer Ausbildung, bitte um Termin in der Berufsberatung.",
        "Bitte um Berufsorientierung; Schulabschluss wird gerade anerkannt."}},
      {"integration_course",
       {"Bitte um Einstufungstest und einen Platz im nächsten Integrationskurs.",
        "Berechtigung zum Integrationskurs liegt vor, bitte um einen Kurs am Vormittag."}},
      {"language_course",
       {"Bitte um einen Platz in einem Aufbaukurs B1.",
        "Bitte um einen Sprachkurs am Abend, tagsüber in Arbeit."}},
      {"recognition_counselling",
       {"Abschluss aus dem Herkunftsland, bitte um Beratung zur Anerkennung.",
        "Zeugnisse liegen in Kopie vor, bitte um Termin zur Anerkennungsberatung."}},
  };
  static const Strings none;
  auto found = values.find(service);
  return found != values.end() ? found->second : none;
}

// The partner's answer for a step of the hand-over.
std::string outcome_text(Random& rng, const std::string& service, const std::string& status,
                         const std::string& appointment) {
  const bool course = service == "integration_course" || service == "language_course";
  if (status == "accepted") {
    return course ? "Einstufungstest am " + appointment + " vereinbart."
                  : "Erstgespräch am " + appointment + " vereinbart.";
  }
  if (status == "in_progress") {
    if (course) return "Kurs hat begonnen, Teilnahme regelmäßig.";
    if (service == "sgb2_integration_services")
      return "Kooperationsplan vereinbart, Maßnahme läuft.";
    if (service == "recognition_counselling") return "Antrag auf Anerkennung wird vorbereitet.";
    return "Beratung läuft, Bewerbungen werden gemeinsam geschrieben.";
  }
  if (status == "completed") {
    if (service == "integration_course") return "Integrationskurs abgeschlossen, DTZ B1 bestanden.";
    if (service == "language_course") return "Kurs abgeschlossen, Zertifikat B1 erreicht.";
    if (service == "sgb2_integration_services") {
      return rng.pick(Strings{"Arbeitsaufnahme in Teilzeit, Betreuung im Jobcenter läuft weiter.",
                              "Maßnahme zur Aktivierung erfolgreich beendet."});
    }
    if (service == "sgb3_placement") return "Vermittlung in eine Beschäftigung erfolgt.";
    if (service == "vocational_guidance") return "Ausbildungsplatz zum 1. August zugesagt.";
    return "Teilweise Gleichwertigkeit festgestellt, Anpassungsqualifizierung empfohlen.";
  }
  if (status == "declined") {
    if (course) {
      return rng.pick(Strings{"Derzeit kein Kursplatz frei, Warteliste bis Quartalsende.",
                              "Kein Kurs mit Kinderbetreuung in erreichbarer Nähe."});
    }
    if (service == "sgb2_integration_services")
      return "Nicht zuständig: kein Leistungsbezug nach SGB II.";
    if (service == "sgb3_placement")
      return "Nicht zuständig, Person bezieht Bürgergeld – bitte an das Jobcenter.";
    if (service == "vocational_guidance") return "Beratung erst ab Sprachniveau B1 sinnvoll.";
    return "Reglementierter Heilberuf: zuständig ist die Bezirksregierung.";
  }
  return rng.pick(Strings{"Person hat selbst einen Platz gefunden, Überleitung zurückgenommen.",
                          "Person ist verzogen, Überleitung zurückgenommen.",
                          "Termine zweimal nicht wahrgenommen, Überleitung zurückgenommen."});
}

std::string german_date(sys_days day) {
  const std::chrono::year_month_day ymd{day};
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%02u.%02u.%04d", static_cast<unsigned>(ymd.day()),
                static_cast<unsigned>(ymd.month()), static_cast<int>(ymd.year()));
  return buffer;
}

class PartnerNetwork {
 public:
  PartnerNetwork(Connection& db, Random& rng, DemoSummary& summary, std::int64_t coordinator_id)
      : db_(db),
        rng_(rng),
        summary_(summary),
        coordinator_id_(coordinator_id),
        today_(std::chrono::floor<days>(std::chrono::system_clock::now())),
        agreement_(db,
                   "INSERT INTO agreements(id, title, parties, handover_rule, services, "
                   "data_terms, valid_from, valid_to, status, signed_on, created_by, created_at, "
                   "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"),
        agreement_party_(db, "INSERT INTO agreement_parties(agreement_id, partner) VALUES (?, ?)"),
        consent_(db,
                 "INSERT INTO consents(id, person_id, recipients, purposes, categories, form, "
                 "given_on, valid_until, explicit_special_category, document_reference, "
                 "recorded_by, created_at, revoked_at, revoked_by, revoke_reason) VALUES "
                 "(?,?,?,?,?,?,?,?,0,?,?,?,?,?,?)"),
        referral_(db,
                  "INSERT INTO referrals(id, case_id, partner, service, purpose, categories, "
                  "agreement_id, message, status, own_case_management, outcome, payload, "
                  "stopped_reason, town, created_by, created_at, sent_at, status_changed_at, "
                  "closed_at) VALUES (?,?,?,?,'referral',?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
        referral_consent_(db,
                          "INSERT INTO referral_consents(referral_id, consent_id) VALUES (?, ?)"),
        history_(db,
                 "INSERT INTO referral_history(referral_id, from_status, to_status, outcome, "
                 "reason, occurred_on, at, by_user) VALUES (?,?,?,?,?,?,?,?)"),
        note_(db,
              "INSERT INTO notes(id, case_id, occurred_on, kind, text, author_id, created_at) "
              "VALUES (?,?,?,'referral',?,?,?)"),
        touch_case_(db,
                    "UPDATE cases SET version = version + ?, updated_at = max(updated_at, ?) "
                    "WHERE id = ?") {}

  void run(std::vector<ReferralCandidate> candidates) {
    create_agreements();
    if (usable_.empty()) return;
    // A share of the cases, in an order of their own; the first suitable ones show what the
    // gaps report and a revocation look like, whatever the seed.
    rng_.shuffle(candidates);
    for (const auto& candidate : candidates) {
      const Usable* first = offer_for(candidate, nullptr);
      if (!first) continue;
      const bool open = candidate.phase != "closed";
      const Window window = window_for(candidate, *first);
      std::string scenario;
      if (waiting_ < 2 && open && window.until - window.from >= days(35)) {
        scenario = "waiting";
        ++waiting_;
      } else if (declined_ < 2) {
        scenario = "declined";
        ++declined_;
      } else if (revoked_ < 1 && open && window.until - window.from >= days(10)) {
        scenario = "revoked";
        ++revoked_;
      } else if (rng_.chance(0.35)) {
        scenario = random_scenario(candidate.phase);
      } else {
        continue;
      }
      refer(candidate, *first, scenario);
      // Now and then a second partner for another goal.
      if (rng_.chance(0.2)) {
        if (const Usable* second = offer_for(candidate, first)) {
          refer(candidate, *second, random_scenario(candidate.phase));
        }
      }
    }
  }

 private:
  // A signed agreement valid today and the services of it the partner offers.
  struct Usable {
    std::string agreement_id;
    std::string partner;
    std::string partner_name;
    bool own_case_management = false;
    bool county_wide = false;
    Strings towns;
    Strings services;
    Strings categories;
    sys_days valid_from{};
  };

  struct Window {
    sys_days from;
    sys_days until;
  };

  struct Step {
    std::string status;
    sys_days day;
    std::string outcome;
    std::string stamp;
  };

  static Strings strings(const json& column) {
    return json::parse(column.get<std::string>()).get<Strings>();
  }

  void create_agreements() {
    const std::chrono::year_month_day now{today_};
    const std::chrono::year year = now.year();
    const auto next_month = sys_days((now.year() / now.month() + std::chrono::months(1)) / 1);
    // Only between partners the config seeds: none without the coordinating office's record.
    if (db_.query("SELECT 1 FROM partners WHERE slug = ?", {kNetworkHub}).empty()) return;
    for (const auto& spec : agreement_specs()) {
      auto partner = db_.query("SELECT * FROM partners WHERE slug = ?", {spec.partner});
      if (partner.empty()) continue;
      const std::string validity = spec.validity;
      sys_days from;
      std::optional<sys_days> to;
      if (validity == "valid") {
        from = sys_days((year - std::chrono::years(3)) / spec.from_month / 1);
        if (!spec.open_ended) to = sys_days((year + std::chrono::years(2)) / 12 / 31);
      } else if (validity == "expired") {
        from = sys_days((year - std::chrono::years(4)) / spec.from_month / 1);
        to = sys_days((year - std::chrono::years(1)) / 6 / 30);
      } else {
        from = next_month;
      }
      const bool signed_ = validity != "draft";
      const sys_days signed_on = from - days(rng_.between(7, 30));
      const sys_days drafted =
          signed_ ? signed_on - days(rng_.between(20, 60)) : today_ - days(rng_.between(5, 40));
      const std::string created_at = stamp_text(drafted, rng_.between(9 * 3600, 15 * 3600), 0);
      const std::string updated_at =
          signed_ ? stamp_text(signed_on, rng_.between(9 * 3600, 15 * 3600), 0) : created_at;
      const json parties = json::array({{{"partner", kNetworkHub},
                                         {"tasks", spec.hub_tasks},
                                         {"responsibility_ends", spec.hub_ends}},
                                        {{"partner", spec.partner},
                                         {"tasks", spec.partner_tasks},
                                         {"responsibility_ends", spec.partner_ends}}});
      // The partner receives what the terms name for referrals; the coordinating office hears
      // back who took part (outcome feedback), nothing more.
      const json terms = json::array(
          {{{"partner", spec.partner}, {"categories", spec.categories}, {"purposes", {"referral"}}},
           {{"partner", kNetworkHub},
            {"categories", {"identity"}},
            {"purposes", {"outcome_feedback"}}}});
      const std::string id = rng_.id("agr");
      agreement_({id, spec.title, parties.dump(), spec.handover_rule, json(spec.services).dump(),
                  terms.dump(), date_text(from), to ? SqlValue(date_text(*to)) : SqlValue(nullptr),
                  signed_ ? "signed" : "draft",
                  signed_ ? SqlValue(date_text(signed_on)) : SqlValue(nullptr), coordinator_id_,
                  created_at, updated_at});
      agreement_party_({id, kNetworkHub});
      agreement_party_({id, spec.partner});
      ++summary_.agreements;
      if (validity != "valid") continue;

      const json& row = partner[0];
      if (row["active"].get<std::int64_t>() != 1) continue;
      Usable usable{id,
                    row["slug"],
                    row["name"],
                    domain::has_own_case_management(row["legal_domain"].get<std::string>()),
                    row["county_wide"].get<std::int64_t>() == 1,
                    strings(row["towns"]),
                    {},
                    spec.categories,
                    from};
      for (const auto& service : strings(row["services"])) {
        if (std::find(spec.services.begin(), spec.services.end(), service) != spec.services.end()) {
          usable.services.push_back(service);
        }
      }
      if (!usable.services.empty()) usable_.push_back(std::move(usable));
    }
  }

  Window window_for(const ReferralCandidate& c, const Usable& usable) const {
    return {std::max(c.from, usable.valid_from), c.until};
  }

  // A partner serving the case's town under an agreement in force at the time; one that fits a
  // goal of the case if there is one.
  const Usable* offer_for(const ReferralCandidate& c, const Usable* besides) {
    std::vector<const Usable*> serving, fitting;
    for (const auto& usable : usable_) {
      if (&usable == besides) continue;
      const bool serves = usable.county_wide || std::find(usable.towns.begin(), usable.towns.end(),
                                                          c.town) != usable.towns.end();
      const Window window = window_for(c, usable);
      if (!serves || window.until < window.from) continue;
      serving.push_back(&usable);
      for (const auto& service : usable.services) {
        for (const auto& goal : c.goal_domains) {
          if (fits(service, goal) && (fitting.empty() || fitting.back() != &usable)) {
            fitting.push_back(&usable);
          }
        }
      }
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
    for (std::size_t i = 1; i < steps.size(); ++i)
      steps[i].day = std::max(steps[i].day, steps[i - 1].day);
    return steps;
  }

  void refer(const ReferralCandidate& c, const Usable& partner, const std::string& scenario) {
    const std::string& service = rng_.pick(partner.services);
    auto steps = steps_for(scenario, window_for(c, partner));
    // Stamps in the afternoon, strictly increasing along the referral.
    int second = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (i == 0 || steps[i].day != steps[i - 1].day) {
        second = rng_.between(13 * 3600, 15 * 3600);
      } else {
        second = std::min(second + rng_.between(300, 1800), 86399);
      }
      steps[i].stamp = stamp_text(steps[i].day, second, ++millis_ % 1000);
    }
    const bool revoked = scenario == "revoked";
    for (std::size_t i = 1; i < steps.size(); ++i) {
      if (revoked && i + 1 == steps.size()) break;  // stopped by the revocation, no answer
      steps[i].outcome = outcome_text(rng_, service, steps[i].status,
                                      german_date(steps[i].day + days(rng_.between(4, 14))));
    }
    const Step& sent = steps.front();
    const Step& last = steps.back();

    // The person's written consent, given before the referral was sent.
    const sys_days given = std::max(c.opened, sent.day - days(rng_.between(0, 21)));
    const bool pending =
        last.status == "sent" || last.status == "accepted" || last.status == "in_progress";
    sys_days valid_until = given + days(730);
    if (pending && valid_until <= today_) valid_until = today_ + days(rng_.between(30, 300));
    const std::string consent_id = rng_.id("con");
    consent_({consent_id, c.person_id, json::array({partner.partner}).dump(),
              json::array({"referral"}).dump(), json(partner.categories).dump(), "written",
              date_text(given), date_text(valid_until),
              "Einwilligungserklärung vom " + german_date(given) + ", Papierakte", c.manager_id,
              stamp_text(given, rng_.between(12 * 3600, 13 * 3600 - 1), 0),
              revoked ? SqlValue(last.stamp) : SqlValue(nullptr),
              revoked ? SqlValue(c.manager_id) : SqlValue(nullptr),
              revoked ? SqlValue("Einwilligung im Beratungsgespräch widerrufen, schriftlich "
                                 "bestätigt.")
                      : SqlValue(nullptr)});
    ++summary_.consents;
    if (revoked) ++summary_.consents_revoked;

    const std::string id = rng_.id("ref");
    const json manager = db_.query(
                                "SELECT u.name, o.slug FROM users u JOIN organisations o ON o.id = "
                                "u.organisation_id WHERE u.id = ?",
                                {c.manager_id})
                             .at(0);
    const auto& messages = referral_messages(service);
    const SqlValue message =
        messages.empty() || rng_.chance(0.15) ? SqlValue(nullptr) : SqlValue(rng_.pick(messages));
    const json payload = {
        {"referral_id", id},
        {"service", service},
        {"purpose", "referral"},
        {"message", std::holds_alternative<std::string>(message)
                        ? json(std::get<std::string>(message))
                        : json(nullptr)},
        {"from", {{"organisation", manager["slug"]}, {"case_manager", manager["name"]}}},
        {"categories", partner.categories},
        {"person", referrals::released_person_data(db_, c.case_id, c.person_id, partner.categories,
                                                   sent.stamp)}};
    std::string outcome;
    for (const auto& step : steps) {
      if (!step.outcome.empty()) outcome = step.outcome;
    }
    const bool final =
        last.status == "declined" || last.status == "completed" || last.status == "cancelled";
    referral_({id, c.case_id, partner.partner, service, json(partner.categories).dump(),
               partner.agreement_id, message, last.status, partner.own_case_management ? 1 : 0,
               text_or_null(outcome), payload.dump(),
               revoked ? SqlValue("consent_revoked") : SqlValue(nullptr), c.town, c.manager_id,
               sent.stamp, sent.stamp, last.stamp,
               final ? SqlValue(last.stamp) : SqlValue(nullptr)});
    referral_consent_({id, consent_id});

    // History and timeline as the referral service writes them: one note per step.
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const Step& step = steps[i];
      const bool stopped = revoked && i + 1 == steps.size();
      history_({id, i == 0 ? SqlValue(nullptr) : SqlValue(steps[i - 1].status), step.status,
                text_or_null(step.outcome),
                stopped ? SqlValue("consent_revoked") : SqlValue(nullptr), date_text(step.day),
                step.stamp, c.manager_id});
      const std::string text = referrals::timeline_text(
          partner.partner_name, service, step.status, partner.own_case_management,
          stopped ? referrals::kStoppedByRevocation : step.outcome);
      note_({rng_.id("note"), c.case_id, date_text(step.day), text, c.manager_id, step.stamp});
      ++summary_.notes;
    }
    // Every step changed the case, as the service's writes do.
    touch_case_({static_cast<std::int64_t>(steps.size()), last.stamp, c.case_id});
    ++summary_.referrals;
    ++summary_.referrals_by_status[last.status];
  }

  Connection& db_;
  Random& rng_;
  DemoSummary& summary_;
  std::int64_t coordinator_id_;
  sys_days today_;
  std::vector<Usable> usable_;
  int waiting_ = 0, declined_ = 0, revoked_ = 0, millis_ = 0;
  Insert agreement_, agreement_party_, consent_, referral_, referral_consent_, history_, note_,
      touch_case_;
};

class Writer {
 public:
  Writer(Connection& db, Random& rng, std::map<std::string, Organisation>& orgs,
         DemoSummary& summary, std::vector<ReferralCandidate>& candidates)
      : rng_(rng),
        orgs_(orgs),
        summary_(summary),
        candidates_(candidates),
        today_(std::chrono::floor<days>(std::chrono::system_clock::now())),
        person_(
            db,
            "INSERT INTO persons(id, given_names, family_name, name_key, date_of_birth, gender, "
            "nationalities, languages, town, residence_status, arrival_date, household, "
            "organisation_id, created_by, created_at, demo) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)"),
        participation_(db,
                       "INSERT INTO programme_participations(id, person_id, programme, started_on, "
                       "ended_on, recorded_by, created_at) VALUES (?,?,?,?,?,?,?)"),
        case_(db,
              "INSERT INTO cases(id, person_id, town, organisation_id, case_manager_id, phase, "
              "opened_on, closed_on, closure_reason, closure_note, version, created_at, "
              "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"),
        transition_(db,
                    "INSERT INTO case_transitions(case_id, from_phase, to_phase, reason, note, at, "
                    "by_user) VALUES (?,?,?,?,?,?,?)"),
        assessment_(db,
                    "INSERT INTO assessments(id, case_id, kind, recorded_at, recorded_by) VALUES "
                    "(?,?,?,?,?)"),
        assessment_domain_(db,
                           "INSERT INTO assessment_domains(assessment_id, life_domain, need_level, "
                           "summary) VALUES (?,?,?,?)"),
        goal_(db,
              "INSERT INTO goals(id, case_id, life_domain, description, due_date, status, "
              "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)"),
        task_(db,
              "INSERT INTO tasks(id, case_id, goal_id, description, due_date, assignee_id, "
              "done_on, created_at) VALUES (?,?,?,?,?,?,?,?)"),
        note_(db,
              "INSERT INTO notes(id, case_id, occurred_on, kind, text, author_id, created_at) "
              "VALUES (?,?,?,?,?,?,?)") {
    for (const auto& spec : org_specs()) {
      for (const auto& town : spec.serves)
        serving_[town] = spec.slug;
    }
  }

  void run() {
    const auto& towns = domain::towns();
    std::vector<int> town_weights;
    for (const auto& town : towns)
      town_weights.push_back(town_weight(town));
    // Every phase and every town at least once, whatever the seed; the rest by weight.
    const Strings& phases = domain::phases();
    constexpr int kWithCase = 300;
    constexpr int kProgrammeOnly = 12;
    for (int i = 0; i < kWithCase + kProgrammeOnly; ++i) {
      const std::string& town = i < static_cast<int>(towns.size())
                                    ? towns[static_cast<std::size_t>(i)]
                                    : towns[rng_.weighted(town_weights)];
      if (i >= kWithCase) {
        programme_only_person(town);
        continue;
      }
      static const std::vector<int> phase_weights = {6, 10, 12, 12, 11, 22, 7, 20};
      const std::string& phase = i < static_cast<int>(phases.size())
                                     ? phases[static_cast<std::size_t>(i)]
                                     : phases[rng_.weighted(phase_weights)];
      person_with_case(town, phase);
    }
  }

 private:
  struct Person {
    std::string id;
    const Origin* origin = nullptr;
    sys_days birth{};
    int age = 0;
  };

  const CaseManager& case_manager_for(const std::string& town, Organisation** org_out) {
    auto serving = serving_.find(town);
    // A town added to the catalogue later goes to an organisation of the county's office.
    auto& org = orgs_.at(serving != serving_.end() ? serving->second : "drk-steinfurt");
    *org_out = &org;
    const auto& manager = org.case_managers[org.next++ % org.case_managers.size()];
    return manager;
  }

  // Writes the person; `recorded` is the day the organisation recorded them.
  Person person(const std::string& town, const CaseManager& manager, sys_days recorded,
                const std::string& created_at) {
    Person person;
    person.id = rng_.id("per");
    std::vector<int> weights;
    for (const auto& origin : origins())
      weights.push_back(origin.weight);
    person.origin = &origins()[rng_.weighted(weights)];
    const Origin& origin = *person.origin;

    const std::size_t band = rng_.weighted({15, 60, 25});
    person.age = band == 0   ? rng_.between(17, 24)
                 : band == 1 ? rng_.between(25, 44)
                             : rng_.between(45, 66);
    person.birth = today_ - days(person.age * 365 + rng_.between(0, 364));
    const std::string gender = domain::genders()[rng_.weighted({46, 52, 1, 1})];
    const bool female = gender == "female" || (gender != "male" && rng_.chance(0.5));
    const std::string given = rng_.pick(female ? origin.female : origin.male);
    const std::string family = rng_.pick(origin.family);

    // Arrival: after the origin's main migration year began, before the person was recorded.
    const sys_days earliest =
        std::max(sys_days(std::chrono::year(origin.earliest_arrival_year) / 1 / 1),
                 person.birth + days(365));
    SqlValue arrival = nullptr;
    sys_days arrived = recorded - days(rng_.between(30, 2800));
    if (arrived < earliest) {
      const int room = static_cast<int>((recorded - earliest).count()) - 30;
      arrived = earliest + days(rng_.between(0, std::max(0, room)));
    }
    const std::string status = rng_.pick(origin.statuses);
    if (arrived < recorded && (status != "eu_free_movement" || rng_.chance(0.7))) {
      arrival = date_text(arrived);
    }

    json nationalities = json::array();
    if (status == "naturalised") nationalities.push_back("DE");
    nationalities.push_back(origin.nationality);
    json languages = json::array();
    for (const auto& language : rng_.pick(origin.languages))
      languages.push_back(language);
    if ((today_ - arrived).count() > 3 * 365 && rng_.chance(0.6)) languages.push_back("de");
    if (rng_.chance(0.2)) languages.push_back("en");

    json household = json::array();
    const int born = year_of(person.birth);
    if (person.age >= 22 && rng_.chance(0.55)) {
      household.push_back({{"relation", "spouse"}, {"birth_year", born + rng_.between(-6, 4)}});
    }
    if (person.age >= 22) {
      const int children = static_cast<int>(rng_.weighted({35, 20, 25, 12, 8}));
      const int first = born + 20;
      const int last = std::max(first, std::min(born + 42, year_of(today_)));
      for (int c = 0; c < children; ++c) {
        household.push_back({{"relation", "child"}, {"birth_year", rng_.between(first, last)}});
      }
    }
    if (rng_.chance(0.05)) {
      household.push_back({{"relation", "parent"}, {"birth_year", born - rng_.between(20, 35)}});
    }
    if (person.age < 27 && rng_.chance(0.2)) {
      household.push_back({{"relation", "sibling"}, {"birth_year", born + rng_.between(-5, 5)}});
    }

    person_({person.id, given, family, cases::CaseService::name_key(given, family),
             date_text(person.birth), gender, nationalities.dump(), languages.dump(), town, status,
             arrival, household.dump(), manager.organisation_id, manager.user_id, created_at});
    ++summary_.persons;
    return person;
  }

  void participation(const std::string& person_id, const std::string& programme, sys_days started,
                     std::optional<sys_days> ended, const CaseManager& manager,
                     const std::string& created_at) {
    participation_({rng_.id("prg"), person_id, programme, date_text(started),
                    ended ? SqlValue(date_text(*ended)) : SqlValue(nullptr), manager.user_id,
                    created_at});
    ++summary_.participations;
  }

  // "Gemeinsam klappt's" participants: funded support that excludes a KIM case, so they have none.
  void programme_only_person(const std::string& town) {
    Organisation* org = nullptr;
    const auto& manager = case_manager_for(town, &org);
    const sys_days recorded = today_ - days(rng_.between(10, 300));
    Timeline timeline(rng_);
    const std::string created_at = timeline.at(recorded);
    auto who = person(town, manager, recorded, created_at);
    participation(who.id, "gemeinsam_klappts", recorded, std::nullopt, manager,
                  timeline.at(recorded));
  }

  void person_with_case(const std::string& town, const std::string& target) {
    CasePlanner planner(rng_);
    CasePlan plan = planner.plan(target);
    // Lay the course out on the calendar: an open case was last active within the last weeks,
    // a closed one may have closed long ago. Nothing lies in the future.
    const int slack = plan.phase == "closed" ? rng_.between(1, 400) : rng_.between(1, 45);
    const sys_days opened = today_ - days(slack + plan.day);
    auto day = [&](int relative) { return opened + days(relative); };

    Organisation* org = nullptr;
    const auto& manager = case_manager_for(town, &org);
    // With team access colleagues step in now and then; otherwise only the case manager writes.
    auto actor = [&]() -> std::int64_t {
      if (org->team_access && org->case_managers.size() > 1 && rng_.chance(0.2)) {
        return rng_.pick(org->case_managers).user_id;
      }
      return manager.user_id;
    };

    Timeline timeline(rng_);
    const std::string person_created = timeline.at(opened);
    auto who = person(town, manager, opened, person_created);
    const std::string case_created = timeline.at(opened);
    const std::string case_id = rng_.id("case");

    // Other support the person receives or received; none of it excludes a KIM case.
    if (who.age < 27 && rng_.chance(0.35)) {
      const sys_days started = opened - days(rng_.between(30, 700));
      participation(who.id, "youth_migration_service", started,
                    rng_.chance(0.5) ? std::optional<sys_days>(opened - days(rng_.between(1, 20)))
                                     : std::nullopt,
                    manager, case_created);
    } else if (rng_.chance(0.15)) {
      const sys_days started = opened - days(rng_.between(60, 900));
      participation(who.id, "migration_counselling_adults", started,
                    opened - days(rng_.between(1, 50)), manager, case_created);
    }
    if (who.age >= 25 && rng_.chance(0.1)) {
      participation(who.id, "sgb2_case_management", opened - days(rng_.between(0, 365)),
                    std::nullopt, manager, case_created);
    }

    // Rows in the order the service would have written them.
    std::int64_t version = 1;
    std::string updated_at = case_created;
    std::vector<std::vector<SqlValue>> transitions, assessments, domains, goals, tasks, notes;
    std::vector<std::string> goal_stamps(plan.goals.size());
    for (const auto& [kind, index] : plan.order) {
      switch (kind) {
        case 't': {
          const auto& t = plan.transitions[index];
          updated_at = timeline.at(day(t.day));
          transitions.push_back({case_id, t.from, t.to, text_or_null(t.reason),
                                 text_or_null(t.note), updated_at, actor()});
          break;
        }
        case 'a': {
          const auto& a = plan.assessments[index];
          updated_at = timeline.at(day(a.day));
          assessments.push_back({a.id, case_id, a.kind, updated_at, manager.user_id});
          for (const auto& [life_domain, level, summary] : a.domains) {
            domains.push_back({a.id, life_domain, level, summary});
          }
          ++summary_.assessments;
          break;
        }
        case 'g': {
          const auto& g = plan.goals[index];
          updated_at = timeline.at(day(g.day));
          goal_stamps[index] = updated_at;
          break;
        }
        case 'k': {
          const auto& t = plan.tasks[index];
          updated_at = timeline.at(day(t.day));
          const sys_days due = day(t.day + t.due_in);
          const bool done = t.done_day >= 0;
          tasks.push_back({t.id, case_id,
                           t.goal >= 0 ? SqlValue(plan.goals[static_cast<std::size_t>(t.goal)].id)
                                       : SqlValue(nullptr),
                           t.description, date_text(due), manager.user_id,
                           done ? SqlValue(date_text(day(t.done_day))) : SqlValue(nullptr),
                           updated_at});
          ++summary_.tasks;
          if (done) ++version;  // marking it done changed the case
          if (!done && due < today_) ++summary_.overdue_tasks;
          break;
        }
        case 'n': {
          const auto& n = plan.notes[index];
          updated_at = timeline.at(day(n.day));
          notes.push_back(
              {n.id, case_id, date_text(day(n.day)), n.kind, n.text, actor(), updated_at});
          ++summary_.notes;
          break;
        }
      }
      ++version;
    }
    for (std::size_t i = 0; i < plan.goals.size(); ++i) {
      const auto& g = plan.goals[i];
      std::string changed = goal_stamps[i];
      if (g.status_day >= 0) {
        // Late in the afternoon: after the day's other writes, before a closure on a later day.
        changed = stamp_text(day(g.status_day), rng_.between(16 * 3600, 17 * 3600), 999);
        updated_at = std::max(updated_at, changed);
        ++version;
      }
      goals.push_back({g.id, case_id, g.life_domain, g.description,
                       date_text(day(g.day + g.due_in)), g.status, goal_stamps[i], changed});
      ++summary_.goals;
    }

    const bool closed = plan.phase == "closed";
    const Transition* closing = closed ? &plan.transitions.back() : nullptr;
    case_({case_id, who.id, town, org->id, manager.user_id, plan.phase, date_text(opened),
           closed ? SqlValue(date_text(day(closing->day))) : SqlValue(nullptr),
           closed ? SqlValue(closing->reason) : SqlValue(nullptr),
           closed ? SqlValue(closing->note) : SqlValue(nullptr), version, case_created,
           updated_at});
    for (const auto& row : transitions)
      transition_(row);
    for (const auto& row : assessments)
      assessment_(row);
    for (const auto& row : domains)
      assessment_domain_(row);
    for (const auto& row : goals)
      goal_(row);
    for (const auto& row : tasks)
      task_(row);
    for (const auto& row : notes)
      note_(row);
    ++summary_.cases;
    ++summary_.cases_by_phase[plan.phase];

    // Referrals fit from the first move into linking or monitoring (goals agreed) until
    // yesterday, or the day before the closure: never in the future, never after the case ended.
    const bool referable = plan.phase == "linking" || plan.phase == "monitoring" ||
                           plan.phase == "reassessment" || closed;
    auto linked =
        std::find_if(plan.transitions.begin(), plan.transitions.end(),
                     [](const Transition& t) { return t.to == "linking" || t.to == "monitoring"; });
    const sys_days until = closed ? day(closing->day) - days(1) : today_ - days(1);
    if (referable && linked != plan.transitions.end() && day(linked->day) <= until) {
      Strings goal_domains;
      for (const auto& g : plan.goals)
        goal_domains.push_back(g.life_domain);
      candidates_.push_back({case_id, who.id, town, plan.phase, manager.user_id, opened,
                             day(linked->day), until, goal_domains});
    }
  }

  Random& rng_;
  std::map<std::string, Organisation>& orgs_;
  DemoSummary& summary_;
  std::vector<ReferralCandidate>& candidates_;
  sys_days today_;
  std::map<std::string, std::string> serving_;  // town -> organisation slug
  Insert person_, participation_, case_, transition_, assessment_, assessment_domain_, goal_, task_,
      note_;
};

}  // namespace

DemoSummary seed_demo(store::Store& store, std::uint64_t seed) {
  DemoSummary summary;
  summary.seed = seed;
  const std::string path = store.path().string();

  // 1. Check and claim the database in one transaction (BEGIN IMMEDIATE): from here on it is
  //    recognisable as a demo database, even if a later step fails.
  std::map<std::string, Organisation> orgs = store.write([&](Connection& db) {
    require_empty(db, path);
    db.exec(
        "CREATE TABLE IF NOT EXISTS demo_marker (seed TEXT NOT NULL, started_at TEXT NOT NULL, "
        "completed_at TEXT)");
    db.execute("INSERT INTO demo_marker(seed, started_at) VALUES (?, ?)",
               {std::to_string(seed), domain::now_timestamp()});
    std::map<std::string, Organisation> found;
    summary.organisations_created = 0;
    summary.organisations_reused = 0;
    for (const auto& spec : org_specs()) {
      auto rows = db.query("SELECT id, team_access FROM organisations WHERE slug = ?", {spec.slug});
      if (rows.empty()) {
        auto created = orgs::create_organisation(db, {{"slug", spec.slug},
                                                      {"name", spec.name},
                                                      {"kind", spec.kind},
                                                      {"town", spec.town},
                                                      {"supervisor", spec.supervisor},
                                                      {"team_access", spec.team_access}});
        if (!created) {
          throw std::runtime_error("cannot create the demo organisation " + std::string(spec.slug) +
                                   ": " + created.problem().field + " " +
                                   created.problem().message);
        }
        rows = db.query("SELECT id, team_access FROM organisations WHERE slug = ?", {spec.slug});
        ++summary.organisations_created;
      } else {
        ++summary.organisations_reused;
      }
      found[spec.slug] = Organisation{rows[0]["id"].get<std::int64_t>(),
                                      rows[0]["team_access"].get<std::int64_t>() == 1,
                                      {},
                                      0};
    }
    return found;
  });

  // 2. Users and tokens through the access directory, as `kim token create` would make them.
  auth::AccessDirectory access(store);
  auto issue = [&](const std::string& name, const std::string& role, const std::string& org) {
    auto issued = access.create_token(name, role, org, "demo");
    summary.users.push_back({name, role, org, issued.token});
    return issued.user_id;
  };
  const bool has_admin = store.read(
      [](Connection& db) { return !db.query("SELECT 1 FROM users WHERE name = 'admin'").empty(); });
  // `kim serve` creates the bootstrap admin only on a database without users.
  if (!has_admin) issue("admin", "admin", "");
  std::int64_t county_coordinator = 0;  // records the county office's agreements
  for (const auto& spec : org_specs()) {
    if (!*spec.coordinator) continue;
    const auto id = issue(spec.coordinator, "coordinator", spec.slug);
    if (!county_coordinator) county_coordinator = id;
  }
  for (const auto& spec : org_specs()) {
    auto& org = orgs.at(spec.slug);
    for (const auto& name : spec.case_managers) {
      org.case_managers.push_back({issue(name, "case_manager", spec.slug), org.id});
    }
  }
  issue(kAuditor, "auditor", "");

  // 3. The participants and their cases, then the partner network in use (agreements, consents,
  //    referrals; none when the config seeds no partners), in one transaction. The network draws
  //    from a generator of its own: with or without partners, a seed gives the same persons.
  store.write([&](Connection& db) {
    Random rng(seed);
    std::vector<ReferralCandidate> candidates;
    Writer writer(db, rng, orgs, summary, candidates);
    writer.run();
    Random network_rng(seed ^ 0x9e3779b97f4a7c15ULL);
    PartnerNetwork network(db, network_rng, summary, county_coordinator);
    network.run(std::move(candidates));
    db.execute("UPDATE demo_marker SET completed_at = ?", {domain::now_timestamp()});
  });
  return summary;
}

}  // namespace kim::app
