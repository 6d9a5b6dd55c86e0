// The XLA FFI handlers of xla_ffi.cpp, as opaque function pointers for PyCapsules, so that
// module.cpp does not need the XLA headers.
#pragma once

void* ganloss_xla_ffi_cpu_handler();
void* ganloss_xla_ffi_cuda_handler();
