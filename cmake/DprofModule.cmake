# dprof_add_module(<name> SOURCES <files...> [PUBLIC_DEPS <targets...>] [PRIVATE_DEPS <targets...>])
#
# One static library per top-level module: target dprof_<name>, alias dprof::<name>.
# Public headers live in <module>/include/dprof/<module>/ and are installed; everything else in the
# module folder (sources, internal/) stays private.
function(dprof_add_module name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS")
  add_library(dprof_${name} STATIC ${arg_SOURCES})
  add_library(dprof::${name} ALIAS dprof_${name})
  set_target_properties(dprof_${name} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(dprof_${name}
    PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE
      ${PROJECT_SOURCE_DIR})
  target_link_libraries(dprof_${name} PUBLIC ${arg_PUBLIC_DEPS} PRIVATE ${arg_PRIVATE_DEPS})
  dprof_set_warnings(dprof_${name})
  install(TARGETS dprof_${name} EXPORT dprofTargets)
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# With clang, -Wthread-safety checks every lock annotation (ABSL_GUARDED_BY and the rest) against
# dprof::sync::Mutex; GCC ignores the annotations.
function(dprof_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow
                                           $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>
                                           $<$<CXX_COMPILER_ID:Clang>:-Wthread-safety>)
  if(DPROF_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
