# kim_add_plugin(<name> SOURCES <file>... [OUTPUT_DIRECTORY <dir>])
#
# Builds a loadable KIM plugin: a MODULE library named kim-<name>.so with hidden symbols, linked
# against the SDK only. Its metadata is the ELF note KIM_PLUGIN writes (section .note.kim.plugin),
# which the host reads from the file without loading it. Put the resulting file itself (no
# symbolic link) into a folder listed in the host's plugins.directories (or the default
# <prefix>/lib/kim/plugins); file and folder must be owned by root or the user kim runs as and
# writable by neither group nor others.
function(kim_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_DIRECTORY" "SOURCES")
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "kim_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE kim::sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "kim-${name}"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
endfunction()
