# Shared compile settings and helpers for the project's libraries, tests and fuzz targets.
add_library(tp_build_flags INTERFACE)
target_compile_options(tp_build_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
target_include_directories(tp_build_flags INTERFACE ${PROJECT_SOURCE_DIR}/src)

if(TP_SANITIZE)
  target_compile_options(tp_build_flags INTERFACE -fsanitize=${TP_SANITIZE} -fno-omit-frame-pointer
                                                  -fno-sanitize-recover=undefined)
  target_link_options(tp_build_flags INTERFACE -fsanitize=${TP_SANITIZE})
  if(TP_SANITIZE MATCHES "undefined")
    # Debian's SOCI does not export the typeinfo the vptr check needs.
    target_compile_options(tp_build_flags INTERFACE -fno-sanitize=vptr)
    target_link_options(tp_build_flags INTERFACE -fno-sanitize=vptr)
  endif()
endif()

# tp_library(NAME SOURCES ... DEPS ...): one static library per src/ folder.
function(tp_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_link_libraries(${name} PUBLIC tp_build_flags ${ARG_DEPS})
endfunction()

# tp_test(NAME LABELS SOURCES ... DEPS ...): a GoogleTest executable registered with ctest, its
# tests carrying LABELS (one label, or a list such as "unit;golden").
function(tp_test name labels)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE tp_build_flags ${ARG_DEPS} GTest::gtest GTest::gtest_main
                                        GTest::gmock)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60)
  # gtest_discover_tests splits a list-valued property apart, so the labels are set by a file
  # ctest reads after the discovered tests, whose names it lists in ${name}_TESTS.
  set(labels_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake")
  file(WRITE "${labels_file}"
       "if(${name}_TESTS)\n"
       "  set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${labels}\")\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${labels_file}")
endfunction()
