# Google Highway (SIMD with run-time dispatch, and its vector math): the CPU backend's inner loop.
# Found through its CMake package, else pkg-config (libhwy); exposed as the target ganloss_hwy.
if(TARGET ganloss_hwy)
  return()
endif()
find_package(hwy 1.0 CONFIG QUIET)
add_library(ganloss_hwy INTERFACE)
if(TARGET hwy::hwy)
  target_link_libraries(ganloss_hwy INTERFACE hwy::hwy)
  message(STATUS "ganloss: Google Highway ${hwy_VERSION} (CMake package)")
else()
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(GANLOSS_LIBHWY QUIET IMPORTED_TARGET libhwy>=1.0)
  endif()
  if(NOT GANLOSS_LIBHWY_FOUND)
    message(FATAL_ERROR
      "ganloss needs Google Highway 1.0 or later (the CPU backend's SIMD and vector math). "
      "Install it (Debian/Ubuntu: apt-get install libhwy-dev; or scripts/install-deps.sh), or "
      "point CMAKE_PREFIX_PATH at an installation with its hwy CMake package.")
  endif()
  target_link_libraries(ganloss_hwy INTERFACE PkgConfig::GANLOSS_LIBHWY)
  message(STATUS "ganloss: Google Highway ${GANLOSS_LIBHWY_VERSION} (pkg-config)")
endif()
