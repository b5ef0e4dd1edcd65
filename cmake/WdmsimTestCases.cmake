# Run by add_wdmsim_test() after a test program is built: PROGRAM --list, written to OUT, one case
# a line, for the ctest include file that makes each case a test of its own.
execute_process(COMMAND "${PROGRAM}" --list OUTPUT_VARIABLE cases RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} --list failed (${status})")
endif()
file(WRITE "${OUT}" "${cases}")
