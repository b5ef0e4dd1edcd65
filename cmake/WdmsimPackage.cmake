# Installs wdmsim for outside users: the driver-facing headers (include/wdmsim/ddk: wdm.h, ntddk.h,
# ntstatus.h), the host API (include/wdmsim/wdmsim.h) and test support (include/wdmsim/test.h),
# libwdmsim.a, libwdmsim_test.a (when CMocka was found), a CMake package (find_package(wdmsim) ->
# wdmsim::kernel, wdmsim::test, add_wdmsim_test, add_wdmsim_driver), the pkg-config file
# wdmsim.pc, and the DebugPrint driver and TraceDrv as loadable modules (lib/wdmsim/drivers).
# Everything driver code needs (16-bit wchar_t, pool-tag literals, pthreads, dl, -rdynamic)
# travels in the target's usage requirements and in the .pc flags.
include(CMakePackageConfigHelpers)

set(WDMSIM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/wdmsim"
    CACHE STRING "Where the wdmsim CMake package is installed, relative to the prefix")

install(DIRECTORY ${PROJECT_SOURCE_DIR}/sim_kernel/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wdmsim/ddk
  FILES_MATCHING PATTERN "*.h"
  PATTERN wdmsim EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sim_kernel/include/wdmsim
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

# A static library built with sanitizers needs their runtime wherever it is linked.
if(WDMSIM_SANITIZE)
  list(JOIN WDMSIM_SANITIZE "," _wdmsim_pkg_san)
  set(WDMSIM_PC_SANITIZE_LIBS " -fsanitize=${_wdmsim_pkg_san}")
  target_link_options(wdmsim_kernel INTERFACE $<INSTALL_INTERFACE:-fsanitize=${_wdmsim_pkg_san}>)
else()
  set(WDMSIM_PC_SANITIZE_LIBS "")
endif()

install(TARGETS wdmsim_kernel EXPORT wdmsimTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET wdmsim_test)
  install(TARGETS wdmsim_test EXPORT wdmsimTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
install(EXPORT wdmsimTargets
  NAMESPACE wdmsim::
  FILE wdmsimTargets.cmake
  DESTINATION ${WDMSIM_INSTALL_CMAKEDIR})

# The drivers users can host: modules that wdmsim_driver_load_module() loads.
install(TARGETS debugprint_driver tracedrv_driver LIBRARY DESTINATION ${WDMSIM_INSTALL_DRIVERDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/wdmsimConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/wdmsimConfig.cmake
  INSTALL_DESTINATION ${WDMSIM_INSTALL_CMAKEDIR}
  PATH_VARS WDMSIM_INSTALL_DRIVERDIR)
# 0.x: a minor release may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/wdmsimConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
    ${PROJECT_BINARY_DIR}/cmake/wdmsimConfig.cmake
    ${PROJECT_BINARY_DIR}/cmake/wdmsimConfigVersion.cmake
    ${PROJECT_SOURCE_DIR}/cmake/AddWdmsimTest.cmake
    ${PROJECT_SOURCE_DIR}/cmake/WdmsimTestCases.cmake
    ${PROJECT_SOURCE_DIR}/cmake/AddWdmsimDriver.cmake
    ${PROJECT_SOURCE_DIR}/cmake/wdmsim_driver.ld
  DESTINATION ${WDMSIM_INSTALL_CMAKEDIR})

# wdmsim.pc finds its prefix from its own location, so an installed tree can be moved.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(WDMSIM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(WDMSIM_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _wdmsim_pc_up "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" _wdmsim_pc_up "${_wdmsim_pc_up}")
  set(WDMSIM_PC_PREFIX "\${pcfiledir}/${_wdmsim_pc_up}")
  set(WDMSIM_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(WDMSIM_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(WDMSIM_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(WDMSIM_PC_PRIVATE_LIBS "-pthread")
foreach(_wdmsim_lib IN LISTS CMAKE_DL_LIBS)
  string(APPEND WDMSIM_PC_PRIVATE_LIBS " -l${_wdmsim_lib}")
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/wdmsim.pc.in ${PROJECT_BINARY_DIR}/wdmsim.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/wdmsim.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
