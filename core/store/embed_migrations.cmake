# Embeds the core migrations core/store/migrations/NNNN_name.sql into kim_core: generates a .cpp
# defining kim::store::core_migrations() from them at configure time. The glob and the file
# dependencies re-run CMake when a file is added or changed, so the build never sees stale SQL.
#
# Rules checked here, so that a mistake fails the build rather than a start:
# - every file in the folder except README.md is named NNNN_name.sql (four digits, then
#   lowercase letters, digits and _);
# - the numbers are exactly 1, 2, 3, ... (no gap, no duplicate);
# - the first line is "-- description"; the SQL is everything after that line, byte for byte.
#   The text is embedded as hex escapes so no byte (quote, backslash, CR) is reinterpreted.
function(kim_embed_core_migrations migrations_dir template output)
  file(GLOB files CONFIGURE_DEPENDS "${migrations_dir}/*")
  list(SORT files)
  set(entries "")
  set(expected 1)
  foreach(file IN LISTS files)
    get_filename_component(name "${file}" NAME)
    if(name STREQUAL "README.md")
      continue()
    endif()
    if(NOT name MATCHES "^([0-9][0-9][0-9][0-9])_[a-z0-9_]+\\.sql$")
      message(FATAL_ERROR "${file}: a core migration must be named NNNN_name.sql "
                          "(four digits, then lowercase letters, digits and _)")
    endif()
    math(EXPR version "${CMAKE_MATCH_1}")  # drops the leading zeros
    if(version LESS expected)
      message(FATAL_ERROR "${file}: core migration number ${version} is taken twice")
    elseif(NOT version EQUAL expected)
      message(FATAL_ERROR "${file}: core migrations must be numbered 1, 2, 3, ... without gaps: "
                          "expected ${expected}, found ${version}")
    endif()
    math(EXPR expected "${expected} + 1")

    file(READ "${file}" content)
    string(FIND "${content}" "\n" line_end)
    if(line_end EQUAL -1)
      message(FATAL_ERROR "${file}: no SQL; the first line is \"-- description\", the SQL follows")
    endif()
    string(SUBSTRING "${content}" 0 ${line_end} header)
    if(NOT header MATCHES "^-- ([^\r]+)$")
      message(FATAL_ERROR "${file}: the first line must be \"-- description\"")
    endif()
    set(description "${CMAKE_MATCH_1}")
    math(EXPR sql_start "${line_end} + 1")
    string(SUBSTRING "${content}" ${sql_start} -1 sql)
    if(NOT sql MATCHES "[^ \t\r\n]")
      message(FATAL_ERROR "${file}: no SQL after the description line")
    endif()

    string(LENGTH "${description}" description_size)
    string(HEX "${description}" description_hex)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" description_escaped "${description_hex}")
    string(LENGTH "${sql}" sql_size)
    string(HEX "${sql}" sql_hex)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" sql_escaped "${sql_hex}")
    string(APPEND entries
           "      // ${name}\n"
           "      {${version}, std::string(\"${description_escaped}\", ${description_size}),\n"
           "       std::string(\"${sql_escaped}\", ${sql_size})},\n")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${file}")
  endforeach()
  if(expected EQUAL 1)
    message(FATAL_ERROR "${migrations_dir}: no core migrations found")
  endif()
  set(KIM_CORE_MIGRATION_ENTRIES "${entries}")
  configure_file("${template}" "${output}" @ONLY)
endfunction()
