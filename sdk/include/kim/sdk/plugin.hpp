// The plugin interface and the one macro that exports a plugin from a shared library.
#pragma once

#include <cstdint>
#include <memory>

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>

#include "kim/sdk/host.hpp"
#include "kim/sdk/version.hpp"

// Read by the host before any C++ object crosses the boundary: plain C, fixed layout. The first
// three fields keep their place in every ABI version, so a host can name a plugin built for
// another ABI; the host reads nothing else when abi_version differs from its own.
extern "C" struct KimPluginMetadata {
  std::uint32_t abi_version;  // KIM_SDK_ABI_VERSION the plugin was built with
  std::uint32_t struct_size;  // sizeof(KimPluginMetadata) in the plugin's SDK
  const char* id;             // [a-z][a-z0-9-]*, unique in a deployment, e.g. "rheine"
  const char* version;        // the plugin's own version, e.g. "1.2.0"
  const char* sdk_version;    // KIM_SDK_VERSION_STRING the plugin was built with
  const char* build_key;      // KIM_SDK_BUILD_KEY the plugin was built with
  const char* description;    // one line for `kim plugins list`
  const char* config_schema;  // JSON Schema of the plugin's config block, or nullptr for none
};

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

// Exports `PluginClass` (default-constructible, derived from kim::sdk::Plugin) under the metadata
// given. Use once per plugin library, at namespace scope in one .cpp file:
//
//   KIM_PLUGIN(HelloPlugin, "hello", "1.0.0", "Greets people", kHelloConfigSchema)
//
// `config_schema` is a JSON Schema string literal (or nullptr when the plugin takes no config).
#define KIM_PLUGIN(PluginClass, id, version, description, config_schema)              \
  extern "C" BOOST_SYMBOL_EXPORT const KimPluginMetadata kim_plugin_metadata = {      \
      KIM_SDK_ABI_VERSION,    sizeof(KimPluginMetadata), id,          version,        \
      KIM_SDK_VERSION_STRING, KIM_SDK_BUILD_KEY,         description, config_schema}; \
  namespace kim_plugin_export_ {                                                      \
  inline std::unique_ptr<::kim::sdk::Plugin> create_instance() {                      \
    return std::make_unique<PluginClass>();                                           \
  }                                                                                   \
  }                                                                                   \
  BOOST_DLL_ALIAS(kim_plugin_export_::create_instance, kim_plugin_create)
