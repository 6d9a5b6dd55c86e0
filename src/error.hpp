// Error reporting inside the library: a Status plus a message kept per thread for
// ganloss_last_error_message(), so that no global state is shared between callers.
#ifndef GANLOSS_SRC_ERROR_HPP_
#define GANLOSS_SRC_ERROR_HPP_

#include <cstdint>

#include "ganloss/ganloss.hpp"

namespace ganloss {
namespace detail {

// Records the message for this thread and returns `status`, so that checks read
// `return fail(Status::InvalidSize, "...", ...);`.
Status fail(Status status, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Clears this thread's message and CUDA error at the start of a call.
void clear_error();

const char* last_error_message();

// The last cudaError_t a call on this thread observed (0 = none).
void set_last_cuda_error(int32_t code);
int32_t last_cuda_error();

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_ERROR_HPP_
