// What the host does with plugin files it must not trust, and how far a loaded plugin reaches into
// the database. Real plugin files (copies of the built ones), real folders with real owners and
// modes, a real SQLite store with core's schema.
#include <elf.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

#include <sqlite3.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "kim/sdk/version.hpp"
#include "log/logging.hpp"
#include "plugins/plugin_file.hpp"
#include "plugins/plugin_host.hpp"
#include "plugins/plugin_manager.hpp"
#include "store/core_migrations.hpp"
#include "support/paths.hpp"

namespace kim::plugins {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

namespace fs = std::filesystem;

const fs::path kMarkerPlugin = fs::path(KIM_FIXTURE_PLUGIN_DIR) / "kim-marker-on-load.so";
const fs::path kHelloPlugin = fs::path(KIM_PLUGIN_DIR) / "kim-hello.so";

std::vector<unsigned char> bytes_of(const fs::path& file) {
  std::vector<unsigned char> bytes(fs::file_size(file));
  std::ifstream(file, std::ios::binary)
      .read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

void write_bytes(const fs::path& file, const std::vector<unsigned char>& bytes, std::size_t size) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(size));
}

// A folder of its own per test, with plugins copied into it, and a manager over it. The marker
// plugin writes a file when its library is loaded: the proof that a refused or disabled plugin
// never ran.
class PluginFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("kim-plugin-security-" + std::to_string(random()) + std::to_string(random()));
    plugins_ = dir_ / "plugins";
    fs::create_directories(plugins_);
    fs::permissions(dir_, fs::perms(0755));
    fs::permissions(plugins_, fs::perms(0755));
    marker_ = dir_ / "marker";
    ::setenv("KIM_TEST_PLUGIN_MARKER", marker_.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("KIM_TEST_PLUGIN_MARKER");
    if (manager_) manager_->stop_all();
    scheduler_.clear();
    connectors_.clear();
    events_.clear();
    router_.clear();
    manager_.reset();
    fs::remove_all(dir_);
  }

  fs::path copy_in(const fs::path& plugin, const std::string& name) {
    const auto target = plugins_ / name;
    fs::copy_file(plugin, target, fs::copy_options::overwrite_existing);
    fs::permissions(target, fs::perms(0644));
    return target;
  }

  std::vector<PluginReport> load(std::map<std::string, config::PluginSetting> settings) {
    config::PluginsConfig config;
    config.settings = std::move(settings);
    HostServices services{router_,     events_,
                          connectors_, scheduler_,
                          nullptr,     sdk::HostInfo{"test", KIM_SDK_VERSION_STRING, "Test County"},
                          nullptr};
    manager_ =
        std::make_unique<PluginManager>(config, std::vector<fs::path>{plugins_}, services, logger_);
    manager_->load_all();
    return manager_->reports();
  }

  static std::map<std::string, config::PluginSetting> enable(const std::string& id) {
    return {{id, config::PluginSetting{true, nlohmann::json::object()}}};
  }

  PluginReport report_of(const std::vector<PluginReport>& reports, const std::string& id) {
    for (const auto& report : reports) {
      if (report.id == id) return report;
    }
    ADD_FAILURE() << "no report for " << id;
    return {};
  }

  bool marker_written() const { return fs::exists(marker_); }

  fs::path dir_, plugins_, marker_;
  std::shared_ptr<spdlog::logger> logger_ = [] {
    static std::atomic<int> counter{0};
    return spdlog::null_logger_mt("plugin-security-" + std::to_string(counter++));
  }();
  http::Router router_;
  events::EventBus events_{logger_};
  Registry<sdk::ConnectorType> connectors_{"connector type"};
  jobs::Scheduler scheduler_{logger_};
  std::unique_ptr<PluginManager> manager_;
};

TEST_F(PluginFolderTest, PluginThatIsNotEnabledIsNeverLoaded) {
  copy_in(kMarkerPlugin, "kim-marker-on-load.so");
  auto reports = load({});
  auto marker = report_of(reports, "marker-on-load");
  EXPECT_EQ(marker.state, PluginState::kDisabled) << marker.reason;
  // The metadata comes from the file's bytes: known without running the library.
  EXPECT_EQ(marker.version, "0.1.0");
  EXPECT_EQ(marker.description, "Writes a marker file when loaded");
  EXPECT_FALSE(marker_written()) << "the library of a disabled plugin was loaded";

  // Once enabled it is loaded, and its static constructor runs (the marker works).
  reports = load(enable("marker-on-load"));
  EXPECT_EQ(report_of(reports, "marker-on-load").state, PluginState::kLoaded);
  EXPECT_TRUE(marker_written());
}

TEST_F(PluginFolderTest, WorldWritableFileIsRefusedAndNotLoaded) {
  auto file = copy_in(kMarkerPlugin, "kim-marker-on-load.so");
  fs::permissions(file, fs::perms(0666));
  auto report = report_of(load(enable("marker-on-load")), "marker-on-load");
  EXPECT_EQ(report.state, PluginState::kRefused);
  EXPECT_THAT(report.reason, HasSubstr("the file is writable by group or others (mode 0666)"));
  EXPECT_FALSE(marker_written());

  fs::permissions(file, fs::perms(0664));  // group-writable is refused as well
  report = report_of(load(enable("marker-on-load")), "marker-on-load");
  EXPECT_EQ(report.state, PluginState::kRefused);
  EXPECT_FALSE(marker_written());
}

TEST_F(PluginFolderTest, WorldWritableFolderRefusesItsPlugins) {
  copy_in(kMarkerPlugin, "kim-marker-on-load.so");
  fs::permissions(plugins_, fs::perms(0777));
  auto report = report_of(load(enable("marker-on-load")), "marker-on-load");
  EXPECT_EQ(report.state, PluginState::kRefused);
  EXPECT_THAT(report.reason, HasSubstr("the plugin folder " + fs::canonical(plugins_).string() +
                                       " is writable by group or others (mode 0777)"));
  EXPECT_FALSE(marker_written());
}

TEST_F(PluginFolderTest, FolderAboveThePluginFolderWritableByOthersIsRefusedUnlessSticky) {
  copy_in(kMarkerPlugin, "kim-marker-on-load.so");
  fs::permissions(dir_, fs::perms(0777));
  auto report = report_of(load(enable("marker-on-load")), "marker-on-load");
  EXPECT_EQ(report.state, PluginState::kRefused);
  EXPECT_THAT(report.reason, HasSubstr("above the plugin folder is writable by others without "
                                       "the sticky bit"));
  EXPECT_FALSE(marker_written());

  // With the sticky bit (like /tmp, above every folder of these tests) nobody else can replace
  // the plugin folder.
  fs::permissions(dir_, fs::perms(01777));
  EXPECT_EQ(report_of(load(enable("marker-on-load")), "marker-on-load").state,
            PluginState::kLoaded);
}

TEST_F(PluginFolderTest, FileOrFolderOwnedByAnotherUserIsRefused) {
  ASSERT_EQ(::geteuid(), 0u) << "giving a file away needs root, as kim's tests run";
  constexpr uid_t kNobody = 65534;
  auto file = copy_in(kMarkerPlugin, "kim-marker-on-load.so");
  ASSERT_EQ(::chown(file.c_str(), kNobody, static_cast<gid_t>(-1)), 0);
  auto report = report_of(load(enable("marker-on-load")), "marker-on-load");
  EXPECT_EQ(report.state, PluginState::kRefused);
  EXPECT_THAT(report.reason, HasSubstr("the file is owned by user 65534, neither root nor"));
  EXPECT_FALSE(marker_written());

  ASSERT_EQ(::chown(file.c_str(), 0, static_cast<gid_t>(-1)), 0);
  ASSERT_EQ(::chown(plugins_.c_str(), kNobody, static_cast<gid_t>(-1)), 0);
  report = report_of(load(enable("marker-on-load")), "marker-on-load");
  EXPECT_EQ(report.state, PluginState::kRefused);
  EXPECT_THAT(report.reason, HasSubstr("is owned by user 65534"));
  EXPECT_FALSE(marker_written());
}

TEST_F(PluginFolderTest, SymbolicLinksAreRefusedNotFollowed) {
  // A link to a perfectly good plugin elsewhere: the file checked must be the file in the folder.
  const auto elsewhere = dir_ / "elsewhere.so";
  fs::copy_file(kMarkerPlugin, elsewhere);
  fs::permissions(elsewhere, fs::perms(0644));
  fs::create_symlink(elsewhere, plugins_ / "kim-marker-on-load.so");
  auto reports = load(enable("marker-on-load"));
  auto link = report_of(reports, "kim-marker-on-load");
  EXPECT_EQ(link.state, PluginState::kRefused);
  EXPECT_THAT(link.reason, HasSubstr("a symbolic link"));
  EXPECT_EQ(report_of(reports, "marker-on-load").state, PluginState::kMissing);
  EXPECT_FALSE(marker_written());
}

TEST_F(PluginFolderTest, TruncatedAndGarbageFilesAreRefusedWithAReason) {
  const auto hello = bytes_of(kHelloPlugin);
  ASSERT_GT(hello.size(), 4096u);
  struct Case {
    std::string name;
    std::size_t size;
    std::string reason;
  };
  for (const auto& [name, size, reason] : std::vector<Case>{
           {"kim-empty.so", 0, "not a loadable library: too short for an ELF header"},
           {"kim-header-cut.so", 40, "not a loadable library: too short for an ELF header"},
           {"kim-header-only.so", 64, "not a loadable library: section headers beyond the end"},
           {"kim-half.so", hello.size() / 2, "not a loadable library: section headers beyond"},
           {"kim-one-short.so", hello.size() - 1, "not a loadable library: section headers"}}) {
    write_bytes(plugins_ / name, hello, size);
    fs::permissions(plugins_ / name, fs::perms(0644));
  }
  std::ofstream(plugins_ / "kim-text.so")
      << std::string(20, '-') << "this is not an ELF file" << std::string(100, '-') << "\n";
  fs::permissions(plugins_ / "kim-text.so", fs::perms(0644));
  std::map<std::string, config::PluginSetting> settings;
  settings["hello"] = config::PluginSetting{true, nlohmann::json::object()};
  auto reports = load(settings);
  EXPECT_EQ(report_of(reports, "kim-empty").reason,
            "not a loadable library: too short for an ELF header");
  EXPECT_THAT(report_of(reports, "kim-header-only").reason,
              StartsWith("not a loadable library: section headers beyond the end of the file"));
  EXPECT_THAT(report_of(reports, "kim-half").reason, StartsWith("not a loadable library: "));
  EXPECT_THAT(report_of(reports, "kim-one-short").reason, StartsWith("not a loadable library: "));
  EXPECT_EQ(report_of(reports, "kim-text").reason, "not a loadable library: not an ELF file");
  for (const auto& report : reports) {
    if (report.id == "hello") {
      EXPECT_EQ(report.state, PluginState::kMissing);
    } else {
      EXPECT_EQ(report.state, PluginState::kRefused) << report.id;
    }
  }
  EXPECT_THAT(router_.patterns_of("hello"), IsEmpty());
}

TEST(PluginFileTest, ReadsTheMetadataNoteOfARealPlugin) {
  auto read = read_metadata(bytes_of(kHelloPlugin));
  ASSERT_TRUE(read.metadata.has_value()) << read.problem;
  EXPECT_EQ(read.metadata->abi_version, std::to_string(KIM_SDK_ABI_VERSION));
  EXPECT_EQ(read.metadata->id, "hello");
  EXPECT_EQ(read.metadata->version, "1.0.0");
  EXPECT_EQ(read.metadata->sdk_version, KIM_SDK_VERSION_STRING);
  EXPECT_EQ(read.metadata->build_key, KIM_SDK_BUILD_KEY);
  EXPECT_THAT(read.metadata->config_schema, HasSubstr("\"greeting\""));
  EXPECT_TRUE(read.metadata->complete);
}

TEST(PluginFileTest, BuildKeyNamesTheLibraryVersions) {
  const std::string key = KIM_SDK_BUILD_KEY;
  for (const char* part : {"boost-", ";json-", ";spdlog-", ";fmt-", ";sdk-abi-"}) {
    EXPECT_THAT(key, HasSubstr(part));
  }
}

TEST(PluginFileTest, NoPluginNoteOrAnotherMachineIsRefused) {
  // A real shared library without the note.
  auto plain = read_metadata(bytes_of(fs::path(KIM_FIXTURE_PLUGIN_DIR) / "kim-not-a-plugin.so"));
  EXPECT_FALSE(plain.metadata.has_value());
  EXPECT_THAT(plain.problem, StartsWith("not a KIM plugin (no KIM metadata note"));

  auto bytes = bytes_of(kHelloPlugin);
  auto other_class = bytes;
  other_class[4] = 1;  // ELFCLASS32
  EXPECT_THAT(read_metadata(other_class).problem, HasSubstr("an ELF file for another machine"));
  auto executable = bytes;
  executable[16] = 2;  // ET_EXEC
  EXPECT_THAT(read_metadata(executable).problem, HasSubstr("not a shared library"));
}

// A hostile file must only make the reader say no: every byte of the headers and of the note
// changed in turn, then random bytes anywhere, under the sanitizers.
TEST(PluginFileTest, MangledFilesNeverCrashTheReader) {
  const auto original = bytes_of(kHelloPlugin);
  ASSERT_TRUE(read_metadata(original).metadata.has_value());
  std::vector<std::size_t> interesting;
  for (std::size_t i = 0; i < 64; ++i)
    interesting.push_back(i);
  // The note section's bytes: find the "KIM\0" name and take the note around it.
  const std::string name("KIM\0", 4);
  auto at = std::search(original.begin(), original.end(), name.begin(), name.end());
  ASSERT_NE(at, original.end());
  const auto note = static_cast<std::size_t>(at - original.begin()) - 12;
  for (std::size_t i = note; i < note + 64; ++i)
    interesting.push_back(i);
  // The section header table, at e_shoff.
  std::uint64_t shoff = 0;
  std::memcpy(&shoff, original.data() + 40, sizeof shoff);
  for (std::size_t i = shoff; i < std::min<std::size_t>(original.size(), shoff + 4096); ++i)
    interesting.push_back(i);

  // Changed in place and restored: a copy per case would cost more than the reading.
  auto mangled = original;
  for (std::size_t index : interesting) {
    for (unsigned char value : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      mangled[index] = value;
      auto read = read_metadata(mangled);
      EXPECT_TRUE(read.metadata.has_value() || !read.problem.empty()) << index;
    }
    mangled[index] = original[index];
  }
  std::mt19937 random(42);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::size_t> changed;
    for (int n = 0; n < 8; ++n) {
      changed.push_back(interesting[random() % interesting.size()]);
      mangled[changed.back()] = static_cast<unsigned char>(random());
    }
    const std::size_t cut = random() % 64;
    auto read = read_metadata(std::span(mangled).first(mangled.size() - cut));
    EXPECT_TRUE(read.metadata.has_value() || !read.problem.empty());
    for (std::size_t index : changed)
      mangled[index] = original[index];
  }
  // Notes that lie about their sizes.
  auto& lying = mangled;
  const std::uint32_t huge = 0xfffffff0;
  std::memcpy(lying.data() + note + 4, &huge, sizeof huge);
  EXPECT_THAT(read_metadata(lying).problem, HasSubstr("a note runs past its section"));
  std::memcpy(lying.data() + note, &huge, sizeof huge);
  EXPECT_THAT(read_metadata(lying).problem, HasSubstr("a note runs past its section"));
}

TEST(PluginFileTest, NoteBytesAreBoundedOverAllSections) {
  // Eight section headers naming one 256 KiB note: 2 MiB to read in all, each under the limit.
  const auto original = bytes_of(kHelloPlugin);
  constexpr std::size_t kNoteAt = 4096, kNoteSize = 256 * 1024, kSections = 8;
  std::vector<unsigned char> file(kNoteAt + kNoteSize + kSections * sizeof(Elf64_Shdr), 0);
  Elf64_Ehdr header;
  std::memcpy(&header, original.data(), sizeof header);
  header.e_shoff = kNoteAt + kNoteSize;
  header.e_shnum = kSections;
  header.e_shentsize = sizeof(Elf64_Shdr);
  std::memcpy(file.data(), &header, sizeof header);
  for (std::size_t i = 0; i < kSections; ++i) {
    Elf64_Shdr section{};
    section.sh_type = SHT_NOTE;
    section.sh_offset = kNoteAt;
    section.sh_size = kNoteSize;
    std::memcpy(file.data() + header.e_shoff + i * sizeof section, &section, sizeof section);
  }
  auto read = read_metadata(file);
  EXPECT_FALSE(read.metadata.has_value());
  EXPECT_THAT(read.problem, HasSubstr("note sections larger than 1 MiB in all"));
}

// A plugin's database: its own tables work, nothing else is reachable, and core's statements on
// the same shared connections are untouched.
class PluginDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("kim-plugin-db-" + std::to_string(random()) + std::to_string(random()));
    fs::create_directories(dir_);
    // One reader: a plugin's read lands on the very connection core just used.
    store_ = std::make_unique<store::Store>(
        store::StoreOptions{dir_ / "kim.sqlite3", 5000, "NORMAL", 1, 256});
    store_->migrate("core", store::core_migrations());
    store_->write([](store::Connection& db) {
      db.execute(
          "INSERT INTO audit_log (at, user_id, user_name, role, action, object_type, object_id, "
          "request_id) VALUES ('2024-01-01T00:00:00Z', 1, 'test', 'admin', 'x', 'y', 'z', 'r')");
    });
    host_ = std::make_unique<PluginHostImpl>("probe", nlohmann::json::object(), services_,
                                             log::get("plugin.probe"));
    host_->set_table_scope(table_scope("probe", {"probe", "probe-x", "hello"}));
  }
  void TearDown() override {
    host_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  std::int64_t core_count(const std::string& table) {
    return store_->read([&](store::Connection& db) {
      return db.query("SELECT count(*) AS n FROM " + table)[0]["n"].get<std::int64_t>();
    });
  }

  void expect_refused(const std::string& sql, bool write) {
    auto& db = host_->database();
    try {
      if (write) {
        db.execute(sql);
      } else {
        db.query(sql);
      }
      ADD_FAILURE() << "not refused: " << sql;
    } catch (const store::SqliteError& e) {
      // SQLITE_AUTH, or for a function "not authorized to use function".
      EXPECT_TRUE((e.code() & 0xff) == SQLITE_AUTH ||
                  std::string(e.what()).find("not authorized") != std::string::npos)
          << sql << ": " << e.what();
    }
  }

  fs::path dir_;
  std::shared_ptr<spdlog::logger> logger_ = [] {
    static std::atomic<int> counter{0};
    return spdlog::null_logger_mt("plugin-db-test-" + std::to_string(counter++));
  }();
  http::Router router_;
  events::EventBus events_{logger_};
  Registry<sdk::ConnectorType> connectors_{"connector type"};
  jobs::Scheduler scheduler_{logger_};
  std::unique_ptr<store::Store> store_;
  HostServices services_{router_, events_, connectors_, scheduler_, nullptr, {}, nullptr};
  std::unique_ptr<PluginHostImpl> host_;
};

TEST_F(PluginDatabaseTest, OwnTablesWorkEverythingElseIsRefused) {
  services_.store = store_.get();
  ASSERT_EQ(store_->migrate("plugin:probe",
                            {{1, "items",
                              "CREATE TABLE probe_items (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                              "label TEXT NOT NULL);"
                              "CREATE INDEX probe_items_label ON probe_items(label);"
                              "CREATE TRIGGER probe_items_count AFTER INSERT ON probe_items "
                              "BEGIN UPDATE probe_items SET label = label WHERE 0; END;"}},
                            &host_->authorizer()),
            1);
  auto& db = host_->database();
  EXPECT_EQ(db.execute("INSERT INTO probe_items (label) VALUES (?)", {std::string("one")}), 1);
  db.transaction([](sdk::Transaction& tx) {
    tx.execute("INSERT INTO probe_items (label) VALUES ('two')");
    EXPECT_EQ(tx.last_insert_rowid(), 2);
  });
  EXPECT_EQ(db.query("SELECT count(*) AS n FROM probe_items")[0]["n"], 2);
  EXPECT_EQ(
      db.query("WITH t AS (SELECT label FROM probe_items) SELECT count(*) AS n FROM t")[0]["n"], 2);

  // Tables of another plugin: "hello", and "probe-x" whose prefix extends this one's.
  store_->write([](store::Connection& db) {
    db.exec("CREATE TABLE hello_greetings (x); CREATE TABLE probe_x_secrets (x);");
  });

  // Core first prepares and caches this very statement on the one read connection; the plugin's
  // identical text must not get the cached, unchecked statement.
  const auto persons = core_count("persons");
  const auto audit = core_count("audit_log");
  for (const char* sql :
       {"SELECT count(*) AS n FROM persons", "SELECT count(*) AS n FROM audit_log",
        "SELECT * FROM persons", "SELECT * FROM probe_items WHERE id IN (SELECT id FROM persons)",
        "WITH p AS (SELECT * FROM persons) SELECT count(*) FROM p",
        "SELECT name FROM sqlite_master", "SELECT * FROM schema_migrations",
        "SELECT * FROM hello_greetings", "SELECT * FROM probe_x_secrets", "PRAGMA journal_mode",
        "PRAGMA table_info(persons)"}) {
    expect_refused(sql, false);
  }
  for (const char* sql :
       {"INSERT INTO audit_log (at, user_id, user_name, role, action, "
        "object_type, object_id, request_id) VALUES "
        "('x', 1, 'x', 'x', 'x', 'x', 'x', 'x')",
        "DELETE FROM audit_log", "UPDATE persons SET id = id", "DROP TABLE persons",
        "ATTACH DATABASE ':memory:' AS other", "PRAGMA foreign_keys = OFF",
        "PRAGMA writable_schema = ON", "CREATE TABLE stolen (x)", "CREATE TABLE audit_log_copy (x)",
        "CREATE TEMP TABLE probe_temp (x)",
        "CREATE TEMP TRIGGER probe_t AFTER INSERT ON persons BEGIN SELECT 1; END",
        "CREATE TRIGGER probe_t AFTER INSERT ON persons BEGIN SELECT 1; END",
        "CREATE INDEX probe_idx ON persons(id)", "SAVEPOINT probe", "SELECT load_extension('x')"}) {
    expect_refused(sql, true);
  }
  // A view of its own over core's tables can be made, but reading it reads them: refused.
  db.execute("CREATE VIEW probe_people AS SELECT * FROM persons");
  expect_refused("SELECT * FROM probe_people", false);
  // A trigger body is judged when the statement that fires it is prepared.
  db.execute(
      "CREATE TRIGGER probe_items_leak AFTER INSERT ON probe_items BEGIN "
      "DELETE FROM audit_log; END");
  expect_refused("INSERT INTO probe_items (label) VALUES ('three')", true);
  EXPECT_EQ(db.query("SELECT count(*) AS n FROM probe_items")[0]["n"], 2);

  // DDL writes the schema table, so that is allowed to the authorizer; SQLite refuses it directly.
  for (const char* sql : {"DELETE FROM sqlite_master WHERE name = 'persons'",
                          "UPDATE sqlite_schema SET sql = '' WHERE name = 'audit_log'",
                          "INSERT INTO sqlite_master VALUES ('table', 'x', 'x', 0, '')"}) {
    EXPECT_THROW(db.execute(sql), store::SqliteError) << sql;
  }
  // Nothing changed, and core still reads and writes the same connections freely.
  EXPECT_EQ(core_count("persons"), persons);
  EXPECT_EQ(core_count("audit_log"), audit);
  EXPECT_EQ(store_->write([](store::Connection& db) {
    return db.query("SELECT count(*) AS n FROM sqlite_master WHERE name = 'stolen'")[0]["n"]
        .get<int>();
  }),
            0);
}

TEST_F(PluginDatabaseTest, MigrationsAreConfinedToo) {
  const auto before = core_count("audit_log");
  for (const char* sql : {"CREATE TRIGGER probe_t AFTER INSERT ON persons BEGIN "
                          "DELETE FROM audit_log; END;",
                          "CREATE TABLE probe_ok (x); INSERT INTO audit_log (at, user_id, "
                          "user_name, role, action, object_type, object_id, request_id) VALUES "
                          "('x', 1, 'x', 'x', 'x', 'x', 'x', 'x');",
                          "ATTACH DATABASE ':memory:' AS other;"}) {
    EXPECT_THROW(store_->migrate("plugin:probe", {{1, "bad", sql}}, &host_->authorizer()),
                 store::SqliteError)
        << sql;
    EXPECT_EQ(store_->schema_version("plugin:probe"), 0) << sql;
  }
  EXPECT_EQ(core_count("audit_log"), before);
  EXPECT_EQ(store_->read([](store::Connection& db) {
    return db.query("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'probe%'")[0]["n"]
        .get<int>();
  }),
            0);
}

TEST_F(PluginDatabaseTest, PrefixThatBeginsACoreTableDoesNotReachIt) {
  PluginHostImpl audit("audit", nlohmann::json::object(), services_, log::get("plugin.audit"));
  audit.set_table_scope(table_scope("audit", {"audit"}));
  services_.store = store_.get();
  EXPECT_THROW(audit.database().query("SELECT * FROM audit_log"), store::SqliteError);
  EXPECT_THROW(audit.database().execute("DELETE FROM audit_log"), store::SqliteError);
}

}  // namespace
}  // namespace kim::plugins
