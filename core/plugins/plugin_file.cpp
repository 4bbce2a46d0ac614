#include "plugins/plugin_file.hpp"

#include <elf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "kim/sdk/plugin.hpp"

namespace kim::plugins {

namespace {

constexpr std::uint64_t kMaxNoteSection = 1 << 20;  // a schema is kilobytes; refuse the absurd
constexpr const char* kNotElf = "not a loadable library: ";
constexpr const char* kNoNote =
    "not a KIM plugin (no KIM metadata note; was it built with KIM_PLUGIN from KIM SDK 2 or "
    "later?)";

#if defined(__x86_64__)
constexpr Elf64_Half kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr Elf64_Half kMachine = EM_AARCH64;
#else
#error "plugin_file.cpp: add this machine's ELF e_machine"
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr unsigned char kData = ELFDATA2LSB;
#else
constexpr unsigned char kData = ELFDATA2MSB;
#endif

// offset + size <= limit, without overflow.
bool fits(std::uint64_t offset, std::uint64_t size, std::uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

std::uint64_t align4(std::uint64_t n) {
  return (n + 3) & ~std::uint64_t{3};
}

MetadataRead not_elf(const std::string& why) {
  return {std::nullopt, kNotElf + why};
}

MetadataRead bad_note(const std::string& why) {
  return {std::nullopt, "not a KIM plugin: its metadata note is malformed (" + why + ")"};
}

// The descriptor: NUL-terminated strings, then NUL padding.
MetadataRead parse_descriptor(const std::vector<unsigned char>& bytes) {
  std::vector<std::string> fields;
  std::size_t at = 0;
  while (at < bytes.size() && fields.size() < 7) {
    std::size_t end = at;
    while (end < bytes.size() && bytes[end] != 0)
      ++end;
    if (end == bytes.size()) return bad_note("a field is not terminated");
    fields.emplace_back(reinterpret_cast<const char*>(bytes.data() + at), end - at);
    at = end + 1;
  }
  for (; at < bytes.size(); ++at) {
    if (bytes[at] != 0) return bad_note("bytes after the last field");
  }
  if (fields.size() < 2) return bad_note("it names no ABI version and id");
  FileMetadata meta;
  meta.abi_version = fields[0];
  meta.id = fields[1];
  if (fields.size() == 7) {
    meta.version = fields[2];
    meta.sdk_version = fields[3];
    meta.build_key = fields[4];
    meta.description = fields[5];
    meta.config_schema = fields[6];
    meta.complete = true;
  }
  return {std::move(meta), {}};
}

}  // namespace

MetadataRead read_metadata(std::uint64_t file_size, const ReadAt& read) {
  Elf64_Ehdr header;
  if (file_size < sizeof header || !read(0, &header, sizeof header)) {
    return not_elf("too short for an ELF header");
  }
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) return not_elf("not an ELF file");
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != kData ||
      header.e_machine != kMachine) {
    return not_elf("an ELF file for another machine");
  }
  if (header.e_type != ET_DYN) return not_elf("an ELF file, but not a shared library");
  if (header.e_shoff == 0 || header.e_shnum == 0) return {std::nullopt, kNoNote};
  if (header.e_shentsize != sizeof(Elf64_Shdr)) return not_elf("section headers of odd size");
  const std::uint64_t table_size = std::uint64_t{header.e_shnum} * sizeof(Elf64_Shdr);
  if (!fits(header.e_shoff, table_size, file_size)) {
    return not_elf("section headers beyond the end of the file (truncated?)");
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  if (!read(header.e_shoff, sections.data(), table_size)) return not_elf("unreadable");

  std::optional<MetadataRead> found;
  // Bounded over all sections, not each: many headers naming the same large note would
  // otherwise make the host read it again and again.
  std::uint64_t note_bytes = 0;
  for (const auto& section : sections) {
    if (section.sh_type != SHT_NOTE) continue;
    if (!fits(section.sh_offset, section.sh_size, file_size)) {
      return not_elf("a note section beyond the end of the file (truncated?)");
    }
    note_bytes += section.sh_size;
    if (note_bytes > kMaxNoteSection) return not_elf("note sections larger than 1 MiB in all");
    std::vector<unsigned char> notes(section.sh_size);
    if (!read(section.sh_offset, notes.data(), notes.size())) return not_elf("unreadable");
    std::uint64_t at = 0;
    while (notes.size() - at >= 12) {
      std::uint32_t sizes[3];  // name size, descriptor size, type
      std::memcpy(sizes, notes.data() + at, sizeof sizes);
      const std::uint64_t name_at = at + 12;
      const std::uint64_t desc_at = name_at + align4(sizes[0]);
      if (!fits(name_at, align4(sizes[0]), notes.size()) ||
          !fits(desc_at, sizes[1], notes.size())) {
        return bad_note("a note runs past its section");
      }
      if (sizes[0] == 4 && std::memcmp(notes.data() + name_at, "KIM", 4) == 0 &&
          sizes[2] == sdk::detail::kMetadataNoteType) {
        if (found) return bad_note("more than one metadata note");
        found = parse_descriptor(std::vector<unsigned char>(
            notes.begin() + static_cast<std::ptrdiff_t>(desc_at),
            notes.begin() + static_cast<std::ptrdiff_t>(desc_at + sizes[1])));
      }
      at = std::min<std::uint64_t>(desc_at + align4(sizes[1]), notes.size());
    }
  }
  if (!found) return {std::nullopt, kNoNote};
  return *found;
}

MetadataRead read_metadata(std::span<const unsigned char> bytes) {
  return read_metadata(bytes.size(), [bytes](std::uint64_t offset, void* out, std::size_t size) {
    if (!fits(offset, size, bytes.size())) return false;
    if (size > 0) std::memcpy(out, bytes.data() + offset, size);
    return true;
  });
}

MetadataRead read_metadata_fd(int fd) {
  struct stat info;
  if (::fstat(fd, &info) != 0) return not_elf(std::strerror(errno));
  return read_metadata(static_cast<std::uint64_t>(info.st_size),
                       [fd](std::uint64_t offset, void* out, std::size_t size) {
                         auto* bytes = static_cast<char*>(out);
                         while (size > 0) {
                           const ssize_t n = ::pread(fd, bytes, size, static_cast<off_t>(offset));
                           if (n < 0 && errno == EINTR) continue;
                           if (n <= 0) return false;
                           bytes += n;
                           offset += static_cast<std::uint64_t>(n);
                           size -= static_cast<std::size_t>(n);
                         }
                         return true;
                       });
}

namespace {

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string owner_problem(const struct stat& info, uid_t service_uid, const std::string& what) {
  if (info.st_uid != 0 && info.st_uid != service_uid) {
    return what + " is owned by user " + std::to_string(info.st_uid) +
           ", neither root nor the user kim runs as (" + std::to_string(service_uid) + ")";
  }
  return {};
}

}  // namespace

std::string file_trust_problem(const struct stat& info, uid_t service_uid) {
  if (!S_ISREG(info.st_mode)) return "not a regular file";
  if (auto problem = owner_problem(info, service_uid, "the file"); !problem.empty()) {
    return problem;
  }
  if (info.st_mode & (S_IWGRP | S_IWOTH)) {
    return "the file is writable by group or others (mode " + mode_text(info.st_mode) +
           "): anybody who can write it could run code as kim";
  }
  return {};
}

std::string folder_trust_problem(const std::filesystem::path& folder, uid_t service_uid) {
  std::error_code ec;
  const auto resolved = std::filesystem::canonical(folder, ec);
  if (ec) return "plugin folder " + folder.string() + ": " + ec.message();
  for (auto current = resolved;; current = current.parent_path()) {
    struct stat info;
    if (::stat(current.c_str(), &info) != 0) {
      return "plugin folder " + current.string() + ": " + std::strerror(errno);
    }
    const bool own = current == resolved;
    const std::string what = own ? "the plugin folder " + current.string()
                                 : "the folder " + current.string() + " above the plugin folder";
    if (!S_ISDIR(info.st_mode)) return what + " is not a folder";
    if (auto problem = owner_problem(info, service_uid, what); !problem.empty()) return problem;
    if (own && (info.st_mode & (S_IWGRP | S_IWOTH))) {
      return what + " is writable by group or others (mode " + mode_text(info.st_mode) +
             "): anybody who can write it could add or replace plugins";
    }
    if (!own && (info.st_mode & S_IWOTH) && !(info.st_mode & S_ISVTX)) {
      return what + " is writable by others without the sticky bit (mode " +
             mode_text(info.st_mode) + "): anybody could replace the plugin folder";
    }
    if (current == current.root_path()) break;
  }
  return {};
}

}  // namespace kim::plugins
