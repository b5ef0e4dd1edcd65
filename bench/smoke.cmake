# Runs `wdmsim-bench --quick --smoke` and checks that it succeeded and printed one machine-readable
# line per figure. Timing is never checked: a smoke run's figures mean nothing.
execute_process(COMMAND ${BENCH} --quick --smoke OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wdmsim-bench --quick --smoke exited with ${rc}\n${out}\n${err}")
endif()
foreach(figure event_ping_pong interlocked_list_1thread interlocked_list_2threads
               debugprint_msg_passive_p50 debugprint_msg_passive_p99
               debugprint_msg_dispatch_p50 debugprint_msg_dispatch_p99 debugprint_pipeline)
  if(NOT out MATCHES "\nbench ${figure} ratio=[0-9.e+-]+ value=[0-9.e+-]+ unit=[^ ]+ baseline=[0-9.e+-]+\n")
    message(FATAL_ERROR "no line for ${figure}:\n${out}")
  endif()
endforeach()
foreach(figure virtual_time_open_retry virtual_time_polling)
  if(NOT out MATCHES "\nbench ${figure} speedup=[0-9]+ value=[0-9.e+-]+ unit=[^ ]+ baseline=[0-9.e+-]+\n")
    message(FATAL_ERROR "no line for ${figure}:\n${out}")
  endif()
endforeach()
