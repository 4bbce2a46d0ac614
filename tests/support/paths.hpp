// Where the tests find the built `kim`, the plugins and the checkout's files.
//
// The absolute paths are compiled into paths.cpp alone: a path in the compile command of every
// test file would make each of them miss the compiler cache in a checkout at another path (a CI
// clone), although nothing else differs. The macros keep the names the tests always used.
#pragma once

namespace kim::test::paths {

extern const char* const kim_binary;          // the `kim` executable
extern const char* const source_dir;          // the checkout (config/, tests/, …)
extern const char* const plugin_dir;          // the plugins built with kim
extern const char* const fixture_plugin_dir;  // the test-only plugins of tests/plugins/fixtures

}  // namespace kim::test::paths

#define KIM_BINARY ::kim::test::paths::kim_binary
#define KIM_SOURCE_DIR ::kim::test::paths::source_dir
#define KIM_PLUGIN_DIR ::kim::test::paths::plugin_dir
#define KIM_FIXTURE_PLUGIN_DIR ::kim::test::paths::fixture_plugin_dir
