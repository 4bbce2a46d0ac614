#include "connectors/file_drop.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/rand.h>

#include "kim/sdk/json.hpp"
#include "text/ascii.hpp"

namespace kim::connectors {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSettingsSchema = R"json({
  "type": "object",
  "required": ["outbox_dir"],
  "properties": {
    "outbox_dir": {"type": "string", "minLength": 1, "maxLength": 4096, "description": "Folder the messages are written to as <idempotency key>.json (relative: under the data folder). Created with mode 0700 if missing."},
    "inbox_dir": {"type": "string", "minLength": 1, "maxLength": 4096, "description": "Folder the partner leaves acknowledgement and report files in (*.json; relative: under the data folder). Applied files move to processed/, refused ones to rejected/ with a .reason file. Absent: nothing is collected."},
    "content": {"enum": ["message", "payload"], "default": "message", "description": "message: the host's envelope (id, idempotency_key, type, partner, case_id, subject_id, created_at, payload); payload: the payload alone (a connector that shapes its own document)."},
    "max_file_bytes": {"type": "integer", "minimum": 64, "maximum": 1048576, "default": 65536, "description": "Larger inbox files are rejected unread."},
    "max_json_depth": {"type": "integer", "minimum": 1, "maximum": 64, "default": 16, "description": "Inbox files nesting deeper are rejected."},
    "max_files_per_run": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000, "description": "Inbox files handled per collection run; the rest wait for the next."}
  }
})json";

// The key becomes a file name: no separators, no dot-files, nothing a shell or a partner's
// tooling could misread.
bool safe_file_name(const std::string& key) {
  static const std::regex kSafe("[A-Za-z0-9][A-Za-z0-9_.-]{0,199}");
  return std::regex_match(key, kSafe);
}

std::string errno_text(const std::string& what, const fs::path& path) {
  return what + " " + path.string() + ": " + std::strerror(errno);
}

// Creates the folder (and its parents) with mode 0700: messages hold social data. Whatever is
// already there (even a symlink) is left for the checks of its user to judge.
void ensure_folder(const fs::path& folder) {
  std::error_code ec;
  if (fs::symlink_status(folder, ec).type() != fs::file_type::not_found) return;
  fs::create_directories(folder, ec);
  if (ec)
    throw std::invalid_argument("cannot create folder " + folder.string() + ": " + ec.message());
  ::chmod(folder.c_str(), 0700);
}

// An open file descriptor, closed when it goes.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// `name` under the folder `parent` (AT_FDCWD: a path) opened as a folder, or a refusal: a
// symlink (a partner's account could point processed/ anywhere kim may write), anything but a
// folder, or a folder kim does not own.
Fd open_own_folder(int parent, const std::string& name) {
  Fd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    throw std::runtime_error(name + " is not a folder (a symlink is refused): " +
                             std::strerror(errno) + "; nothing collected");
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || info.st_uid != ::geteuid()) {
    throw std::runtime_error(name + " is not a folder of kim's user; nothing collected");
  }
  return fd;
}

// Whether `name` exists in the folder `dir` (a symlink counts, dangling or not).
bool taken(int dir, const std::string& name) {
  struct stat info {};
  return ::fstatat(dir, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

// Writes all of `bytes`, resuming after a signal; false on an error (errno tells which).
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Writes `bytes` to `name` in `folder` atomically: a temp file (a dot-file, which the partner
// must skip like the host does) written, synced, renamed over `name`, then the folder synced so
// the rename survives a power cut. Returns an error text or "".
std::string write_atomically(const fs::path& folder, const std::string& name,
                             const std::string& bytes) {
  unsigned char random[8];
  if (RAND_bytes(random, sizeof random) != 1) return "no random bytes for a temp name";
  const std::string suffix = text::to_hex(random, sizeof random);
  const fs::path temp = folder / ("." + name + "." + suffix + ".tmp");
  const fs::path target = folder / name;
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errno_text("cannot create", temp);
  std::string error;
  if (!write_all(fd, bytes)) error = errno_text("cannot write", temp);
  if (error.empty() && ::fsync(fd) != 0) error = errno_text("cannot sync", temp);
  if (::close(fd) != 0 && error.empty()) error = errno_text("cannot close", temp);
  if (error.empty() && ::rename(temp.c_str(), target.c_str()) != 0) {
    error = errno_text("cannot rename to", target);
  }
  if (!error.empty()) {
    ::unlink(temp.c_str());
    return error;
  }
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return errno_text("cannot open", folder);
  if (::fsync(dir) != 0) error = errno_text("cannot sync", folder);
  ::close(dir);
  return error;
}

// `name` in the folder `dir`, or `<stem>-2.json`, … when taken (or, with `reason`, when its
// `.reason` is): an earlier file of the same name is never overwritten.
std::string free_name(int dir, const std::string& name, bool reason) {
  std::string candidate = name;
  const auto stem = fs::path(name).stem().string();
  const auto extension = fs::path(name).extension().string();
  for (int n = 2;
       (taken(dir, candidate) || (reason && taken(dir, candidate + ".reason"))) && n < 100000;
       ++n) {
    candidate = stem + "-" + std::to_string(n) + extension;
  }
  return candidate;
}

class FileDrop final : public sdk::Connector {
 public:
  FileDrop(const nlohmann::json& settings, const sdk::ConnectorContext& context)
      : outbox_(resolve(settings.at("outbox_dir").get<std::string>(), context.data_dir)),
        payload_only_(settings.value("content", "message") == "payload"),
        max_file_bytes_(settings.value("max_file_bytes", 65536)),
        max_json_depth_(settings.value("max_json_depth", 16)),
        max_files_per_run_(settings.value("max_files_per_run", 1000)) {
    ensure_folder(outbox_);
    if (settings.contains("inbox_dir")) {
      inbox_ = resolve(settings["inbox_dir"].get<std::string>(), context.data_dir);
      ensure_folder(inbox_);
      ensure_folder(inbox_ / "processed");
      ensure_folder(inbox_ / "rejected");
    }
  }

  sdk::DeliveryResult deliver(const sdk::OutboundMessage& message) override {
    if (!safe_file_name(message.idempotency_key)) {
      return sdk::DeliveryResult::failed(
          "the idempotency key is not a safe file name ([A-Za-z0-9][A-Za-z0-9_.-]{0,199})");
    }
    // No attempt counter: a repeat writes the same bytes over the same file.
    const nlohmann::json document =
        payload_only_ ? message.payload
                      : nlohmann::json{{"id", message.id},
                                       {"idempotency_key", message.idempotency_key},
                                       {"type", message.type},
                                       {"partner", message.partner},
                                       {"case_id", message.case_id},
                                       {"subject_id", message.subject_id},
                                       {"created_at", message.created_at},
                                       {"payload", message.payload}};
    try {
      ensure_folder(outbox_);
    } catch (const std::invalid_argument& e) {
      return sdk::DeliveryResult::retry(e.what());
    }
    auto error =
        write_atomically(outbox_, message.idempotency_key + ".json", document.dump(2) + "\n");
    if (!error.empty()) return sdk::DeliveryResult::retry(error);
    return sdk::DeliveryResult::delivered("written as " + message.idempotency_key + ".json");
  }

  void collect_inbound(const sdk::InboundSink& sink) override {
    if (inbox_.empty()) return;
    ensure_folder(inbox_ / "processed");
    ensure_folder(inbox_ / "rejected");
    // Everything below goes through these descriptors: a folder swapped for a symlink after
    // the check is never followed.
    const Fd inbox = open_own_folder(AT_FDCWD, inbox_.string());
    const Fd processed = open_own_folder(inbox.get(), "processed");
    const Fd rejected = open_own_folder(inbox.get(), "rejected");
    std::vector<std::string> names;
    {
      DIR* dir = ::fdopendir(::dup(inbox.get()));
      if (!dir) throw std::runtime_error(errno_text("cannot list", inbox_));
      while (const dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        // Dot-files are files still being written (the same convention as deliver's temp
        // files); only regular files, never a symlink placed to make the host read elsewhere.
        if (name.empty() || name.front() == '.' || !name.ends_with(".json")) continue;
        struct stat info {};
        if (::fstatat(inbox.get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(info.st_mode)) {
          continue;
        }
        names.push_back(name);
      }
      ::closedir(dir);
    }
    std::sort(names.begin(), names.end());
    if (names.size() > static_cast<std::size_t>(max_files_per_run_))
      names.resize(max_files_per_run_);
    for (const auto& name : names) {
      std::string text;
      auto refused = read_bounded(inbox.get(), name, text);
      if (!refused.empty()) {
        reject(inbox.get(), rejected.get(), name, refused);
        continue;
      }
      auto parsed = sdk::parse_json(text, max_json_depth_);
      if (!parsed) {
        reject(inbox.get(), rejected.get(), name, parsed.message);
        continue;
      }
      // The sink throws only when the host could not decide (its database failed): the file
      // stays for the next run.
      const auto answer = sink(parsed.value);
      if (answer.applied) {
        move(inbox.get(), name, processed.get(), free_name(processed.get(), name, false));
      } else {
        reject(inbox.get(), rejected.get(), name, answer.detail);
      }
    }
  }

 private:
  static fs::path resolve(const std::string& folder, const fs::path& data_dir) {
    fs::path path(folder);
    return (path.is_absolute() ? path : data_dir / path).lexically_normal();
  }

  // Reads `name` in the folder `dir` if it is a regular file of at most max_file_bytes_ (never
  // through a symlink; O_NONBLOCK: a FIFO swapped in after the listing cannot hang the run); a
  // refusal text or "".
  std::string read_bounded(int dir, const std::string& name, std::string& text) const {
    Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (fd.get() < 0) return "cannot be opened";
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) return "is not a regular file";
    if (info.st_size > max_file_bytes_) {
      return "larger than " + std::to_string(max_file_bytes_) + " bytes";
    }
    text.resize(static_cast<std::size_t>(info.st_size));
    std::size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    return {};
  }

  void move(int from, const std::string& name, int to, const std::string& target) {
    if (::renameat(from, name.c_str(), to, target.c_str()) != 0) {
      throw std::runtime_error(errno_text("cannot move " + name + " to", target));
    }
  }

  // The `.reason` is created first and only as a new file (O_EXCL|O_NOFOLLOW: a symlink planted
  // in rejected/ is never written through), then the file follows it.
  void reject(int inbox, int rejected, const std::string& name, const std::string& reason) {
    const auto target = free_name(rejected, name, true);
    const auto reason_name = target + ".reason";
    Fd fd(::openat(rejected, reason_name.c_str(),
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.get() < 0) throw std::runtime_error(errno_text("cannot create", reason_name));
    write_all(fd.get(), reason + "\n");  // a reason cut short still leaves the file rejected
    if (::renameat(inbox, name.c_str(), rejected, target.c_str()) != 0) {
      const auto error = errno_text("cannot move " + name + " to", target);
      ::unlinkat(rejected, reason_name.c_str(), 0);
      throw std::runtime_error(error);
    }
  }

  fs::path outbox_;
  fs::path inbox_;
  bool payload_only_;
  int max_file_bytes_;
  int max_json_depth_;
  int max_files_per_run_;
};

}  // namespace

sdk::ConnectorType file_drop_type() {
  return {"file_drop", nlohmann::json::parse(kSettingsSchema),
          "writes each message atomically as <idempotency key>.json into a folder and reads the "
          "partner's acknowledgement files from another",
          [](const nlohmann::json& settings, const sdk::ConnectorContext& context) {
            return std::make_unique<FileDrop>(settings, context);
          }};
}

}  // namespace kim::connectors
