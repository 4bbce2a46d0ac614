// The plugin interface and the one macro that exports a plugin from a shared library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>

#include "kim/sdk/host.hpp"
#include "kim/sdk/version.hpp"

namespace kim::sdk {

// Lifecycle: load -> start -> stop, each called once, from one host thread.
// Throwing from load() or start() refuses the plugin with the exception's message; the host and
// the other plugins run on. stop() is called only after a successful start(), at shutdown, in
// reverse start order; it must not throw.
class Plugin {
 public:
  virtual ~Plugin() = default;
  // Register routes, handlers, connectors, jobs and migrations. Do no I/O that can wait for long.
  virtual void load(PluginHost& host) = 0;
  // The plugin's migrations have run; the database and publish() are usable.
  virtual void start() {}
  // Finish or abandon background work. Routes and handlers are no longer called after this.
  virtual void stop() {}
};

using PluginFactory = std::unique_ptr<Plugin>();

}  // namespace kim::sdk

namespace kim::sdk::detail {

// The plugin's metadata as an ELF note (section ".note.kim.plugin", note name "KIM", type
// kMetadataNoteType). The host reads it from the file's bytes, without loading the library, so a
// plugin that is not enabled or not compatible never runs a line of code. The descriptor holds
// NUL-terminated strings in this order: SDK ABI version, id, version, SDK version, build key,
// description, config schema (empty: none). ABI version and id keep their place in every ABI, so
// a host can name a plugin built for another one.
inline constexpr std::uint32_t kMetadataNoteType = 0x4b494d01;  // "KIM" 1

constexpr std::size_t packed_size(std::initializer_list<const char*> fields) {
  std::size_t size = 0;
  for (const char* field : fields) {
    for (std::size_t i = 0; field != nullptr && field[i] != '\0'; ++i)
      ++size;
    ++size;
  }
  return (size + 3) & ~std::size_t{3};  // notes are 4-byte aligned
}

template <std::size_t N>
struct alignas(4) MetadataNote {
  std::uint32_t name_size;
  std::uint32_t descriptor_size;
  std::uint32_t type;
  char name[4];
  char descriptor[N];
};

template <std::size_t N>
constexpr MetadataNote<N> make_metadata_note(std::initializer_list<const char*> fields) {
  MetadataNote<N> note{
      4, static_cast<std::uint32_t>(N), kMetadataNoteType, {'K', 'I', 'M', '\0'}, {}};
  std::size_t at = 0;
  for (const char* field : fields) {
    for (std::size_t i = 0; field != nullptr && field[i] != '\0'; ++i)
      note.descriptor[at++] = field[i];
    note.descriptor[at++] = '\0';
  }
  return note;
}

}  // namespace kim::sdk::detail

#if defined(__has_attribute)
#if __has_attribute(retain)
#define KIM_SDK_RETAIN_ __attribute__((retain))
#endif
#endif
#ifndef KIM_SDK_RETAIN_
#define KIM_SDK_RETAIN_
#endif

// Writes the metadata note with every field given. KIM_PLUGIN fills in the SDK's own ABI version,
// SDK version and build key; use this directly only to fake another SDK in tests.
#define KIM_PLUGIN_METADATA_NOTE(abi, id, version, sdk_version, build_key, description, \
                                 config_schema)                                         \
  namespace kim_plugin_metadata_ {                                                      \
  inline constexpr std::size_t kSize = ::kim::sdk::detail::packed_size(                 \
      {abi, id, version, sdk_version, build_key, description, config_schema});          \
  __attribute__((used, aligned(4), section(".note.kim.plugin")))                        \
  KIM_SDK_RETAIN_ constexpr ::kim::sdk::detail::MetadataNote<kSize>                     \
      kNote = ::kim::sdk::detail::make_metadata_note<kSize>(                            \
          {abi, id, version, sdk_version, build_key, description, config_schema});      \
  }

// Exports `PluginClass` (default-constructible, derived from kim::sdk::Plugin) under the metadata
// given. Use once per plugin library, at namespace scope in one .cpp file:
//
//   KIM_PLUGIN(HelloPlugin, "hello", "1.0.0", "Greets people", kHelloConfigSchema)
//
// `id` must match [a-z][a-z0-9-]{0,62}. Every argument but the class must be a constant
// expression: a string literal or a `constexpr const char*` (`config_schema`, a JSON Schema, may
// be nullptr when the plugin takes no config).
#define KIM_PLUGIN(PluginClass, id, version, description, config_schema)                          \
  KIM_PLUGIN_METADATA_NOTE(KIM_SDK_STRINGIFY(KIM_SDK_ABI_VERSION), id, version,                   \
                           KIM_SDK_VERSION_STRING, KIM_SDK_BUILD_KEY, description, config_schema) \
  namespace kim_plugin_export_ {                                                                  \
  inline std::unique_ptr<::kim::sdk::Plugin> create_instance() {                                  \
    return std::make_unique<PluginClass>();                                                       \
  }                                                                                               \
  }                                                                                               \
  BOOST_DLL_ALIAS(kim_plugin_export_::create_instance, kim_plugin_create)
