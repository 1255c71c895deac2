# cmake -DNM=<nm> -DBINARIES=<a;b> -P no_tracer_in_views.cmake
#
# The offline views (report, folded, pprof, speedscope, flame graphs, the recording reader that
# `dprof stat` prints) link no perf_event code: the test binaries that exercise them hold every
# view and no symbol of the tracer.
foreach(binary IN LISTS BINARIES)
  execute_process(COMMAND ${NM} -C ${binary} OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${binary}")
  endif()
  string(APPEND all "${symbols}")
endforeach()
foreach(view WriteReport WriteFolded WritePprof WriteSpeedscope WriteFlameGraphHtml ReadRecording)
  if(NOT all MATCHES "dprof::profile::${view}\\(")
    message(FATAL_ERROR "no dprof::profile::${view} in ${BINARIES}: the check would prove nothing")
  endif()
endforeach()
string(REGEX MATCHALL "[^\n]*(dprof::tracer::|perf_event_open|PerfBackend)[^\n]*" found "${all}")
if(found)
  list(GET found 0 first)
  message(FATAL_ERROR "the views link perf_event code: ${first}")
endif()
