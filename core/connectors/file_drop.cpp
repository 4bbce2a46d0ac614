#include "connectors/file_drop.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/rand.h>

#include "kim/sdk/json.hpp"

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

// Creates the folder (and its parents) with mode 0700: messages hold social data.
void ensure_folder(const fs::path& folder) {
  std::error_code ec;
  if (fs::is_directory(folder, ec)) return;
  fs::create_directories(folder, ec);
  if (ec)
    throw std::invalid_argument("cannot create folder " + folder.string() + ": " + ec.message());
  ::chmod(folder.c_str(), 0700);
}

// Writes `bytes` to `name` in `folder` atomically: a temp file (a dot-file, which the partner
// must skip like the host does) written, synced, renamed over `name`, then the folder synced so
// the rename survives a power cut. Returns an error text or "".
std::string write_atomically(const fs::path& folder, const std::string& name,
                             const std::string& bytes) {
  unsigned char random[8];
  if (RAND_bytes(random, sizeof random) != 1) return "no random bytes for a temp name";
  std::string suffix;
  for (unsigned char c : random) {
    static const char* kHex = "0123456789abcdef";
    suffix += kHex[c >> 4];
    suffix += kHex[c & 15];
  }
  const fs::path temp = folder / ("." + name + "." + suffix + ".tmp");
  const fs::path target = folder / name;
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errno_text("cannot create", temp);
  std::string error;
  std::size_t written = 0;
  while (error.empty() && written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error = errno_text("cannot write", temp);
    if (n > 0) written += static_cast<std::size_t>(n);
  }
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

// `name` in `folder`, or `<stem>-2.json`, … when taken: an earlier file of the same name is
// never overwritten.
fs::path free_name(const fs::path& folder, const std::string& name) {
  std::error_code ec;
  fs::path candidate = folder / name;
  const auto stem = fs::path(name).stem().string();
  const auto extension = fs::path(name).extension().string();
  for (int n = 2; fs::exists(candidate, ec) && n < 100000; ++n) {
    candidate = folder / (stem + "-" + std::to_string(n) + extension);
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
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(inbox_, ec)) {
      const auto name = entry.path().filename().string();
      // Dot-files are files still being written (the same convention as deliver's temp files);
      // only regular files, never a symlink placed to make the host read elsewhere.
      if (name.empty() || name.front() == '.' || !name.ends_with(".json")) continue;
      if (!entry.is_regular_file(ec) || entry.is_symlink(ec)) continue;
      names.push_back(name);
    }
    if (ec) throw std::runtime_error("cannot list " + inbox_.string() + ": " + ec.message());
    std::sort(names.begin(), names.end());
    if (names.size() > static_cast<std::size_t>(max_files_per_run_))
      names.resize(max_files_per_run_);
    for (const auto& name : names) {
      std::string text;
      auto refused = read_bounded(inbox_ / name, text);
      if (!refused.empty()) {
        reject(name, refused);
        continue;
      }
      auto parsed = sdk::parse_json(text, max_json_depth_);
      if (!parsed) {
        reject(name, parsed.message);
        continue;
      }
      // The sink throws only when the host could not decide (its database failed): the file
      // stays for the next run.
      const auto answer = sink(parsed.value);
      if (answer.applied) {
        move(name, inbox_ / "processed");
      } else {
        reject(name, answer.detail);
      }
    }
  }

 private:
  static fs::path resolve(const std::string& folder, const fs::path& data_dir) {
    fs::path path(folder);
    return (path.is_absolute() ? path : data_dir / path).lexically_normal();
  }

  // Reads a file of at most max_file_bytes_ (without following a symlink); a refusal text or "".
  std::string read_bounded(const fs::path& file, std::string& text) const {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return "cannot be opened";
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      ::close(fd);
      return "is not a regular file";
    }
    if (info.st_size > max_file_bytes_) {
      ::close(fd);
      return "larger than " + std::to_string(max_file_bytes_) + " bytes";
    }
    text.resize(static_cast<std::size_t>(info.st_size));
    std::size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    text.resize(got);
    return {};
  }

  void move(const std::string& name, const fs::path& folder) {
    const auto target = free_name(folder, name);
    if (::rename((inbox_ / name).c_str(), target.c_str()) != 0) {
      throw std::runtime_error(errno_text("cannot move to", target));
    }
  }

  void reject(const std::string& name, const std::string& reason) {
    const auto target = free_name(inbox_ / "rejected", name);
    if (::rename((inbox_ / name).c_str(), target.c_str()) != 0) {
      throw std::runtime_error(errno_text("cannot move to", target));
    }
    std::ofstream(target.string() + ".reason") << reason << "\n";
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
