# add_wdmsim_driver(NAME SOURCES src... [INCLUDE_DIRECTORIES dir...] [OUTPUT_NAME name])
#
# Builds a WDM driver as a module the simulator loads with wdmsim_driver_load_module(), the way
# Windows maps a .sys: a shared object (<OUTPUT_NAME>.so, default NAME) compiled with the include
# paths and options of wdmsim::kernel but not linked with it. Its DDI calls are resolved when it is
# loaded, against the program that hosts it (see wdmsim_host_drivers). Two things make it behave
# like a driver image rather than a shared library:
#  - it binds its own functions and globals to itself (-Bsymbolic), so two modules that both contain
#    DebugPrint.c each use their own copy, even if the host program exports one of its own;
#  - its section INIT (__attribute__((section("INIT"))) in driver code) is put on whole pages by
#    wdmsim_driver.ld, so the simulator can discard it when DriverEntry returns.
#
# wdmsim_host_drivers(TARGET)
#
# Makes the program TARGET able to load driver modules: it links the whole kernel archive, not only
# the members the program itself calls, so every DDI a module may import is there, and exports it
# (-rdynamic, from wdmsim::kernel). Plain link options, so TARGET may also link wdmsim::kernel the
# usual way (add_wdmsim_test does).
include_guard(GLOBAL)

set_property(GLOBAL PROPERTY WDMSIM_DRIVER_LINKER_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/wdmsim_driver.ld")

function(add_wdmsim_driver name)
  cmake_parse_arguments(D "" "OUTPUT_NAME" "SOURCES;INCLUDE_DIRECTORIES" ${ARGN})
  if(NOT D_SOURCES)
    message(FATAL_ERROR "add_wdmsim_driver(${name}): SOURCES is required")
  endif()
  if(NOT D_OUTPUT_NAME)
    set(D_OUTPUT_NAME ${name})
  endif()
  get_property(script GLOBAL PROPERTY WDMSIM_DRIVER_LINKER_SCRIPT)
  add_library(${name} MODULE ${D_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX "" OUTPUT_NAME ${D_OUTPUT_NAME} SUFFIX ".so"
                                           LINK_DEPENDS ${script})
  target_include_directories(${name} PRIVATE
    $<TARGET_PROPERTY:wdmsim::kernel,INTERFACE_INCLUDE_DIRECTORIES> ${D_INCLUDE_DIRECTORIES})
  target_compile_options(${name} PRIVATE $<TARGET_PROPERTY:wdmsim::kernel,INTERFACE_COMPILE_OPTIONS>)
  target_compile_definitions(${name} PRIVATE $<TARGET_PROPERTY:wdmsim::kernel,INTERFACE_COMPILE_DEFINITIONS>)
  target_link_options(${name} PRIVATE "LINKER:-Bsymbolic" "LINKER:-T,${script}")
endfunction()

function(wdmsim_host_drivers target)
  target_link_libraries(${target} PRIVATE wdmsim::kernel)
  target_link_options(${target} PRIVATE
    "LINKER:--whole-archive" "$<TARGET_FILE:wdmsim::kernel>" "LINKER:--no-whole-archive")
endfunction()
