# Embeds the web console's files core/console/assets/* into kim_core: generates a .cpp defining
# kim::console::assets() at configure time (as store/embed_migrations.cmake does for the SQL), so
# the binary and its console cannot disagree and nothing is read from disk at run time. The glob
# and the file dependencies re-run CMake when a file is added or changed.
#
# Each file: its name (a-z, 0-9, '-', '_', '.'; README.md is skipped), its content type from the
# extension (html, css, js, json, svg; any other fails the build), a strong ETag from its SHA-256,
# and its bytes as hex escapes (no byte is reinterpreted).
function(kim_embed_console_assets assets_dir template output)
  file(GLOB files CONFIGURE_DEPENDS "${assets_dir}/*")
  list(SORT files)
  set(entries "")
  foreach(file IN LISTS files)
    get_filename_component(name "${file}" NAME)
    if(name STREQUAL "README.md")
      continue()
    endif()
    if(NOT name MATCHES "^[a-z0-9_-]+\\.(html|css|js|json|svg)$")
      message(FATAL_ERROR "${file}: a console asset is named [a-z0-9_-]+ with .html, .css, .js, "
                          ".json or .svg")
    endif()
    set(extension "${CMAKE_MATCH_1}")
    if(extension STREQUAL "html")
      set(type "text/html; charset=utf-8")
    elseif(extension STREQUAL "css")
      set(type "text/css; charset=utf-8")
    elseif(extension STREQUAL "js")
      set(type "text/javascript; charset=utf-8")
    elseif(extension STREQUAL "json")
      set(type "application/json; charset=utf-8")
    else()
      set(type "image/svg+xml")
    endif()
    file(SHA256 "${file}" digest)
    string(SUBSTRING "${digest}" 0 32 etag)
    file(READ "${file}" content HEX)
    string(LENGTH "${content}" hex_size)
    math(EXPR size "${hex_size} / 2")
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${content}")
    string(APPEND entries
           "      {\"${name}\", \"${type}\", \"\\\"${etag}\\\"\",\n"
           "       std::string_view(\"${escaped}\", ${size})},\n")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${file}")
  endforeach()
  set(KIM_CONSOLE_ASSET_ENTRIES "${entries}")
  configure_file("${template}" "${output}" @ONLY)
endfunction()
