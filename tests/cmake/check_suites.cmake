# Fails when BINARY holds a test case that no per-suite ctest entry runs: lists the cases that
# match none of the entries' filters (COVERED, joined by ':').
execute_process(COMMAND ${BINARY} --gtest_list_tests --gtest_filter=*:-${COVERED}
                OUTPUT_VARIABLE listed RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${BINARY} --gtest_list_tests failed (${result}):\n${listed}")
endif()
# The listing names suites on lines of their own ("Suite.") and cases indented below them.
string(REGEX MATCHALL "\n  [^\n]+" cases "\n${listed}")
if(cases)
  message(FATAL_ERROR "cases that no ctest entry runs (add their suite to the scan in "
                      "tests/cmake/gtest_suites.cmake):\n${listed}")
endif()
message(STATUS "every case of ${BINARY} runs in a per-suite entry")
