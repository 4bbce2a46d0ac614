// SDK version and the build key that host and plugin must share.
#pragma once

// Semantic version of the SDK. A plugin loads when its major equals the host's and its minor is not
// newer than the host's (it may call nothing the host lacks).
#define KIM_SDK_VERSION_MAJOR 3
#define KIM_SDK_VERSION_MINOR 1
#define KIM_SDK_VERSION_PATCH 0
#define KIM_SDK_VERSION_STRING "3.1.0"

// Bumped whenever a change to these headers alters the binary interface (a virtual added to an
// interface, a field added to a struct that crosses the boundary). Host and plugin must agree
// exactly. 2: the metadata moved from an exported struct into an ELF note the host reads from the
// file without loading it (KIM_PLUGIN in plugin.hpp); the build key names the library versions.
// 3: connector types (ConnectorType with a settings schema, ConnectorContext, inbound reports).
// 4: PluginHost::declare_personal_data appended (SDK 3.1, retention and erasure).
#define KIM_SDK_ABI_VERSION 4

#define KIM_SDK_STRINGIFY_(x) #x
#define KIM_SDK_STRINGIFY(x) KIM_SDK_STRINGIFY_(x)

#if defined(__clang__)
#define KIM_SDK_COMPILER_KEY "clang-" KIM_SDK_STRINGIFY(__clang_major__)
#elif defined(__GNUC__)
#define KIM_SDK_COMPILER_KEY "gcc-" KIM_SDK_STRINGIFY(__GNUC__)
#else
#define KIM_SDK_COMPILER_KEY "unknown-compiler"
#endif

// Needs a standard header to see the library macros.
#include <cstddef>
#if defined(_LIBCPP_VERSION)
#define KIM_SDK_STDLIB_KEY "libc++-" KIM_SDK_STRINGIFY(_LIBCPP_VERSION)
#elif defined(__GLIBCXX__)
#define KIM_SDK_STDLIB_KEY                                                        \
  "libstdc++-" KIM_SDK_STRINGIFY(_GLIBCXX_RELEASE) "-cxx11abi" KIM_SDK_STRINGIFY( \
      _GLIBCXX_USE_CXX11_ABI)
#else
#define KIM_SDK_STDLIB_KEY "unknown-stdlib"
#endif

// The libraries whose types cross the boundary (nlohmann::json, spdlog::logger and its fmt, Boost
// in connectors and routes): their layouts change between versions, so the exact versions count.
#include <spdlog/fmt/fmt.h>
#include <spdlog/version.h>
#include <boost/version.hpp>
#include <nlohmann/json_fwd.hpp>
#define KIM_SDK_LIBRARIES_KEY \
  "boost-" BOOST_LIB_VERSION ";json-" KIM_SDK_STRINGIFY(NLOHMANN_JSON_VERSION_MAJOR) "." \
      KIM_SDK_STRINGIFY(NLOHMANN_JSON_VERSION_MINOR) "." KIM_SDK_STRINGIFY(                 \
          NLOHMANN_JSON_VERSION_PATCH) ";spdlog-" KIM_SDK_STRINGIFY(SPDLOG_VER_MAJOR) "."   \
      KIM_SDK_STRINGIFY(SPDLOG_VER_MINOR) "." KIM_SDK_STRINGIFY(                            \
          SPDLOG_VER_PATCH) ";fmt-" KIM_SDK_STRINGIFY(FMT_VERSION)

// C++ objects (std::string, std::function, nlohmann::json) cross the plugin boundary, so host and
// plugin must be built by the same compiler family and major version against the same standard
// library ABI, the same versions of the libraries above and the same SDK ABI. The host compares
// this string before it loads the plugin's file.
#define KIM_SDK_BUILD_KEY                                               \
  KIM_SDK_COMPILER_KEY ";" KIM_SDK_STDLIB_KEY ";" KIM_SDK_LIBRARIES_KEY \
                       ";sdk-abi-" KIM_SDK_STRINGIFY(KIM_SDK_ABI_VERSION)
