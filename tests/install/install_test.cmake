# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DWITH_CLI=ON|OFF -P install_test.cmake
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
set(expected include/dprof/stackdepot/depot.h include/dprof/rcu/rcu.h include/dprof/profiler.h
    include/dprof.h lib/cmake/dprof/dprofConfig.cmake)
if(WITH_CLI)
  list(APPEND expected bin/dprof)
endif()
foreach(f ${expected})
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "install tree lacks ${f}")
  endif()
endforeach()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${prefix}
    -DDPROF_SAMPLES=${SAMPLES_DIR})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(NOT last_output MATCHES "consumer: 2 records, handle stable")
  message(FATAL_ERROR "consumer printed: ${last_output}")
endif()
# The example profiles itself (timer signals: the same result wherever perf_event is allowed or
# not) and reads its folded stacks back.
set(ENV{DPROF_NO_PERF_EVENT} 1)
run(${WORK_DIR}/build/embed_c 1 ${WORK_DIR}/embed.html)
if(NOT last_output MATCHES "embed_c: sampler timer signal" OR
   NOT last_output MATCHES "embed_c: hot_a [4-9][0-9]\\.")
  message(FATAL_ERROR "embed_c printed: ${last_output}")
endif()
