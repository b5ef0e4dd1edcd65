# Runs `wdmsim-bench --quick --smoke` and checks that it succeeded and printed one machine-readable
# line per figure, then that --only keeps to its group. Timing is never checked: a smoke run's
# figures mean nothing.
execute_process(COMMAND ${BENCH} --quick --smoke OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wdmsim-bench --quick --smoke exited with ${rc}\n${out}\n${err}")
endif()
foreach(figure event_ping_pong interlocked_list_1thread interlocked_list_2threads
               debugprint_msg_passive_p50 debugprint_msg_passive_p99
               debugprint_msg_dispatch_p50 debugprint_msg_dispatch_p99 debugprint_pipeline
               debugprint_pipeline_vs_pipe debugprint_pipeline_rate spin_lock_pair pool_alloc_free explore
               scale_objects scale_names scale_drivers)
  if(NOT out MATCHES "\nbench ${figure} ratio=[0-9.e+-]+ value=[0-9.e+-]+ unit=[^ ]+ baseline=[0-9.e+-]+\n")
    message(FATAL_ERROR "no line for ${figure}:\n${out}")
  endif()
endforeach()
foreach(figure virtual_time_open_retry virtual_time_polling)
  if(NOT out MATCHES "\nbench ${figure} speedup=[0-9]+ value=[0-9.e+-]+ unit=[^ ]+ baseline=[0-9.e+-]+\n")
    message(FATAL_ERROR "no line for ${figure}:\n${out}")
  endif()
endforeach()

# --only runs one group and nothing else; an unknown group is a usage error.
execute_process(COMMAND ${BENCH} --smoke --only list OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
string(REGEX MATCHALL "\nbench [a-z_0-9]+" lines "${out}")
if(NOT rc EQUAL 0 OR NOT lines STREQUAL "\nbench interlocked_list_1thread;\nbench interlocked_list_2threads")
  message(FATAL_ERROR "wdmsim-bench --smoke --only list printed other figures or failed (${rc}):\n${out}\n${err}")
endif()
execute_process(COMMAND ${BENCH} --only nonsense OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--only")
  message(FATAL_ERROR "wdmsim-bench --only nonsense should exit 2 with the usage, got ${rc}:\n${err}")
endif()
