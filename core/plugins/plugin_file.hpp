// What the host knows of a plugin file before it loads it: whether the file and its folder may be
// trusted, and the metadata note KIM_PLUGIN wrote (kim/sdk/plugin.hpp), read from the file's
// bytes. Nothing here executes the file, and a hostile file can only make the reader say no.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace kim::plugins {

// The fields of the metadata note, as strings, in the note's order.
struct FileMetadata {
  std::string abi_version;
  std::string id;
  std::string version;
  std::string sdk_version;
  std::string build_key;
  std::string description;
  std::string config_schema;  // empty: the plugin takes no config
  bool complete = false;      // false: only abi_version and id were readable (another ABI)
};

struct MetadataRead {
  std::optional<FileMetadata> metadata;
  std::string problem;  // why there is none: starts "not a loadable library" or "not a KIM plugin"
};

// Reads `size` bytes at `offset` into `out`; false when the file has no such bytes.
using ReadAt = std::function<bool(std::uint64_t offset, void* out, std::size_t size)>;

// Finds and parses the KIM metadata note of an ELF shared library for this machine. Every offset
// and size taken from the file is checked against `file_size` before it is used.
MetadataRead read_metadata(std::uint64_t file_size, const ReadAt& read);
MetadataRead read_metadata(std::span<const unsigned char> bytes);
// From an open file (pread; the file offset is not moved).
MetadataRead read_metadata_fd(int fd);

// Empty when `info` (of a plugin file) may be loaded by a host running as `service_uid`: a regular
// file owned by root or the service user and writable by neither group nor others.
std::string file_trust_problem(const struct stat& info, uid_t service_uid);
// Empty when `folder` may hold plugins: it exists, and it and every folder above it (symbolic
// links resolved) are owned by root or the service user. The folder itself must be writable by
// neither group nor others. A folder above it may be writable by its group (administrators'
// groups such as staff), and by others only with the sticky bit (like /tmp), which keeps them
// from replacing what they do not own.
std::string folder_trust_problem(const std::filesystem::path& folder, uid_t service_uid);

}  // namespace kim::plugins
