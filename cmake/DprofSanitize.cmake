# Sanitizer builds. scripts/test.sh configures one build tree per sanitizer.
if(DPROF_SANITIZE STREQUAL "address")
  set(_dprof_san -fsanitize=address,undefined -fno-sanitize-recover=undefined)
elseif(DPROF_SANITIZE STREQUAL "thread")
  set(_dprof_san -fsanitize=thread)
elseif(DPROF_SANITIZE STREQUAL "fuzzer")
  # libFuzzer's coverage (clang only) with ASan + UBSan; tests/fuzz links libFuzzer's main.
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DPROF_SANITIZE=fuzzer needs clang: -DCMAKE_CXX_COMPILER=clang++")
  endif()
  set(_dprof_san -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
elseif(NOT DPROF_SANITIZE STREQUAL "")
  message(FATAL_ERROR
    "DPROF_SANITIZE must be empty, 'address', 'thread' or 'fuzzer', not '${DPROF_SANITIZE}'")
endif()
if(_dprof_san)
  # -UNDEBUG: sanitizer builds also check every assert().
  add_compile_options(${_dprof_san} -fno-omit-frame-pointer -UNDEBUG)
  add_link_options(${_dprof_san})
endif()
