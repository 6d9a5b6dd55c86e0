# Runs a benchmark binary on a small filter for CTest: it must exit 0 and report no error other
# than the skip every CUDA benchmark reports without a usable GPU ("skipped: ...").
#   cmake -DBINARY=<path> -DFILTER=<regex> -DMIN_TIME=<seconds> -P check_smoke.cmake
execute_process(
  COMMAND ${BINARY} --benchmark_filter=${FILTER} --benchmark_min_time=${MIN_TIME}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors)
message("${errors}${output}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${BINARY} exited with ${status}")
endif()
string(REGEX MATCHALL "ERROR OCCURRED: '[^\n]*" reported "${output}")
foreach(line IN LISTS reported)
  if(NOT line MATCHES "^ERROR OCCURRED: 'skipped: ")
    message(FATAL_ERROR "a benchmark failed: ${line}")
  endif()
endforeach()
