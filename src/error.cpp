// Per-thread error state for the C ABI.
#include "error.hpp"

#include <cstdarg>
#include <cstdio>

namespace ganloss {
namespace detail {
namespace {

struct ThreadError {
  char message[512] = "";
  int32_t cuda_error = 0;
};

ThreadError& thread_error() {
  thread_local ThreadError error;
  return error;
}

}  // namespace

Status fail(Status status, const char* format, ...) {
  ThreadError& e = thread_error();
  va_list args;
  va_start(args, format);
  std::vsnprintf(e.message, sizeof e.message, format, args);
  va_end(args);
  return status;
}

void clear_error() {
  ThreadError& e = thread_error();
  e.message[0] = '\0';
  e.cuda_error = 0;
}

const char* last_error_message() {
  return thread_error().message;
}

void set_last_cuda_error(int32_t code) {
  thread_error().cuda_error = code;
}

int32_t last_cuda_error() {
  return thread_error().cuda_error;
}

}  // namespace detail
}  // namespace ganloss
