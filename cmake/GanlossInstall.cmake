# Install rules and the package config, so that find_package(ganloss) works from a prefix.
include(CMakePackageConfigHelpers)

set(GANLOSS_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ganloss)

install(TARGETS ganloss
  EXPORT ganlossTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/ganloss DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET ganloss_cli)
  install(TARGETS ganloss_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT ganlossTargets
  NAMESPACE ganloss::
  DESTINATION ${GANLOSS_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/ganlossConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ganlossConfig.cmake
  INSTALL_DESTINATION ${GANLOSS_INSTALL_CMAKEDIR})
# Before 1.0 a minor version may change the ABI.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ganlossConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/ganlossConfig.cmake
  ${PROJECT_BINARY_DIR}/ganlossConfigVersion.cmake
  DESTINATION ${GANLOSS_INSTALL_CMAKEDIR})
