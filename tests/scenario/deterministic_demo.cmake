# Runs `wdmsim demo` several times under one controlled schedule (SCHEDULE) and fails unless every
# run prints exactly the same bytes on stdout and on stderr: rows, counts, summary and all.
foreach(run RANGE 1 4)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env WDMSIM_SCHED=${SCHEDULE} ${WDMSIM} demo
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "WDMSIM_SCHED=${SCHEDULE} wdmsim demo exited with ${rc}:\n${out}\n${err}")
  endif()
  if(run EQUAL 1)
    set(first_out "${out}")
    set(first_err "${err}")
  elseif(NOT out STREQUAL first_out OR NOT err STREQUAL first_err)
    message(FATAL_ERROR "run ${run} of WDMSIM_SCHED=${SCHEDULE} wdmsim demo printed something else than run 1:\n"
                        "---- run 1 ----\n${first_out}${first_err}\n---- run ${run} ----\n${out}${err}")
  endif()
endforeach()
