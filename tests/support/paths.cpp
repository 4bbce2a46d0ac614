#include "support/paths.hpp"

namespace kim::test::paths {

const char* const kim_binary = KIM_TEST_BINARY;
const char* const source_dir = KIM_TEST_SOURCE_DIR;
const char* const plugin_dir = KIM_TEST_PLUGIN_DIR;
const char* const fixture_plugin_dir = KIM_TEST_FIXTURE_PLUGIN_DIR;

}  // namespace kim::test::paths
