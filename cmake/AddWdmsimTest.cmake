# add_wdmsim_test(NAME SOURCES src... [LABELS label...] [TIMEOUT seconds] [LIBRARIES lib...])
#
# Builds one CMocka test program against wdmsim::kernel and wdmsim::test and registers it with
# ctest under NAME, labelled (unit, scenario, lesson, crossbuild ...). wdmsim::test runs each case
# in a child process of its own (<wdmsim/test.h>): a STOP, a crash or a leak fails that case and the
# others run. The program takes --list and --filter GLOB (or WDMSIM_TEST_FILTER=GLOB, which ctest
# passes on: `WDMSIM_TEST_FILTER='*double_free*' ctest -R NAME` runs one case). Every test gets a
# timeout, so a hang fails instead of stalling CI, and each case half of it (WDMSIM_TEST_TIMEOUT),
# so a hanging case fails alone. Each case is also a test of its own, NAME/CASE, labelled "case"
# besides LABELS (the project's presets leave those out of whole-suite runs): the program's --list
# is read after each build, so `ctest -L case -R 'NAME/CASE$'` runs one case. Tests are
# deterministic: no sleeps, virtual time, handshakes.
include_guard(GLOBAL)

# CMocka is looked up on the first add_wdmsim_test() call, so projects that only link
# wdmsim::kernel do not need it. Without it there is no wdmsim::cmocka target.
function(_wdmsim_find_cmocka)
  if(TARGET wdmsim::cmocka)
    return()
  endif()
  find_package(cmocka CONFIG QUIET)
  if(NOT TARGET cmocka::cmocka AND NOT (cmocka_FOUND AND CMOCKA_LIBRARIES))
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(CMOCKA QUIET IMPORTED_TARGET GLOBAL cmocka)
    endif()
    if(NOT CMOCKA_FOUND)
      return()
    endif()
  endif()
  add_library(wdmsim::cmocka INTERFACE IMPORTED GLOBAL)
  if(TARGET cmocka::cmocka)
    target_link_libraries(wdmsim::cmocka INTERFACE cmocka::cmocka)
  elseif(cmocka_FOUND AND CMOCKA_LIBRARIES)
    target_include_directories(wdmsim::cmocka INTERFACE ${CMOCKA_INCLUDE_DIR})
    target_link_libraries(wdmsim::cmocka INTERFACE ${CMOCKA_LIBRARIES})
  else()
    target_link_libraries(wdmsim::cmocka INTERFACE PkgConfig::CMOCKA)
  endif()
endfunction()

function(add_wdmsim_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LABELS;LIBRARIES" ${ARGN})
  if(NOT T_SOURCES)
    message(FATAL_ERROR "add_wdmsim_test(${name}): SOURCES is required")
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  _wdmsim_find_cmocka()
  if(NOT TARGET wdmsim::cmocka)
    message(FATAL_ERROR "CMocka not found: install libcmocka-dev (scripts/setup.sh does it)")
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE wdmsim::test wdmsim::kernel wdmsim::cmocka ${T_LIBRARIES})
  add_test(NAME ${name} COMMAND ${name})
  # A case that hangs unseen (a loop with no DDI in it) fails alone at half the suite's time.
  math(EXPR case_timeout "(${T_TIMEOUT} + 1) / 2")
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                                          ENVIRONMENT "WDMSIM_TEST_TIMEOUT=${case_timeout}")
  _wdmsim_add_test_cases(${name} "${T_LABELS}" ${case_timeout})
endfunction()

# The cases of test program name, listed after each build into a file that a script, included by
# ctest, turns into one test per case.
function(_wdmsim_add_test_cases name labels timeout)
  set(list_file "${CMAKE_CURRENT_BINARY_DIR}/${name}.cases")
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_cases.cmake")
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${name}> -DOUT=${list_file}
            -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/WdmsimTestCases.cmake
    VERBATIM)
  file(GENERATE OUTPUT "${include_file}" CONTENT
"if(EXISTS \"${list_file}\")
  file(STRINGS \"${list_file}\" cases)
  foreach(case IN LISTS cases)
    add_test(\"${name}/\${case}\" \"$<TARGET_FILE:${name}>\" --filter \"\${case}\")
    set_tests_properties(\"${name}/\${case}\" PROPERTIES LABELS \"case;${labels}\" TIMEOUT ${timeout})
  endforeach()
endif()
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
