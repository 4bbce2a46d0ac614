# One ctest entry per GoogleTest suite instead of one per test case.
#
# gtest_discover_tests runs every case in a process of its own, so a suite that shares one kim
# host in SetUpTestSuite (or one seeded database per process, see support/kim_host.cpp) would
# still start it once per case. kim_add_gtest_suites() reads the suite names from the sources at
# configure time (a changed source re-runs the configure step) and adds one ctest entry per suite
# that runs all of its cases in one process; every case still runs and reports in the output and
# in a JUnit file under <build>/test-results/. A check entry fails when a case of the binary
# belongs to no entry, e.g. a suite declared in a way the scan does not recognise.
#
#   kim_add_gtest_suites(<target> PREFIX <name> SOURCES <file>... [TIMEOUT <seconds>]
#                        [COST_PER_CASE <n>])
# COST_PER_CASE weighs a case against those of other binaries (a case starting kim costs more than
# a unit test), so that ctest -j starts the longest entries first on a build without timings yet.

function(kim_add_gtest_suites target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "PREFIX;TIMEOUT;COST_PER_CASE" "SOURCES")
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 900)
  endif()
  if(NOT arg_COST_PER_CASE)
    set(arg_COST_PER_CASE 1)
  endif()
  set(suites "")
  foreach(source IN LISTS arg_SOURCES)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${source})
    file(STRINGS ${source} lines REGEX "^[ \t]*(TEST|TEST_F|TEST_P|TYPED_TEST|TYPED_TEST_P)[ \t]*\\(")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*[A-Z_]+[ \t]*\\([ \t]*([A-Za-z0-9_]+).*$" "\\1" suite "${line}")
      list(APPEND suites ${suite})
      # Cases per suite times COST_PER_CASE: a rough cost, so that ctest -j starts long ones first.
      math(EXPR cases_${suite} "${cases_${suite}} + ${arg_COST_PER_CASE}")
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES suites)
  list(SORT suites)

  set(all_filters "")
  foreach(suite IN LISTS suites)
    # Plain and fixture suites are "Suite.Case"; value-parameterized ones "Prefix/Suite.Case/N".
    set(filter "${suite}.*:*/${suite}.*")
    string(APPEND all_filters ":${filter}")
    add_test(NAME ${arg_PREFIX}.${suite}
             COMMAND ${target} --gtest_filter=${filter}
                     --gtest_output=xml:${CMAKE_BINARY_DIR}/test-results/${arg_PREFIX}.${suite}.xml)
    set_tests_properties(${arg_PREFIX}.${suite} PROPERTIES TIMEOUT ${arg_TIMEOUT}
                                                           COST ${cases_${suite}})
  endforeach()
  string(SUBSTRING "${all_filters}" 1 -1 all_filters)

  add_test(NAME ${arg_PREFIX}.every_case_in_a_suite_entry
           COMMAND ${CMAKE_COMMAND} -DBINARY=$<TARGET_FILE:${target}> -DCOVERED=${all_filters}
                   -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/check_suites.cmake)
endfunction()
