# Shared compile settings and helpers for the project's libraries, tests and fuzz targets.
add_library(tp_build_flags INTERFACE)
target_compile_options(tp_build_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
if(TP_WERROR)
  target_compile_options(tp_build_flags INTERFACE -Werror)
endif()

if(TP_SANITIZE)
  target_compile_options(tp_build_flags INTERFACE -fsanitize=${TP_SANITIZE} -fno-omit-frame-pointer
                                                  -fno-sanitize-recover=undefined)
  target_link_options(tp_build_flags INTERFACE -fsanitize=${TP_SANITIZE})
  if(TP_SANITIZE MATCHES "thread")
    # Boost.Asio's headers use atomic_thread_fence, which GCC says ThreadSanitizer does not model.
    target_compile_options(tp_build_flags INTERFACE -Wno-tsan)
  endif()
  if(TP_SANITIZE MATCHES "undefined")
    # Debian's SOCI does not export the typeinfo the vptr check needs.
    target_compile_options(tp_build_flags INTERFACE -fno-sanitize=vptr)
    target_link_options(tp_build_flags INTERFACE -fno-sanitize=vptr)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      # Debian's RapidJSON (1.1) adds to its stack's null pointer on a writer's first push, which
      # clang reports and GCC does not (fixed upstream); every JSON answer would stop a fuzzer.
      target_compile_options(tp_build_flags INTERFACE -fno-sanitize=pointer-overflow)
    endif()
  endif()
endif()

# tp_library(tp_<folder> [SOURCES ...] DEPS ...): the library of src/<folder> (an interface library
# when it has no sources). Its include path is a directory holding only src/<folder> (as a link),
# so a folder sees its own headers and those of the libraries it links, and a header of any other
# layer does not compile.
function(tp_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  string(REGEX REPLACE "^tp_" "" folder ${name})
  set(layer ${PROJECT_BINARY_DIR}/layers/${folder})
  file(MAKE_DIRECTORY ${layer})
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${folder} ${layer}/${folder} SYMBOLIC)
  if(ARG_SOURCES)
    add_library(${name} STATIC ${ARG_SOURCES})
    target_include_directories(${name} PUBLIC ${layer})
    target_link_libraries(${name} PUBLIC tp_build_flags ${ARG_DEPS})
  else()
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${layer})
    target_link_libraries(${name} INTERFACE tp_build_flags ${ARG_DEPS})
  endif()
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
       "  set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${labels}\"\n"
       "    ENVIRONMENT \"LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan.supp\")\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${labels_file}")
endfunction()
