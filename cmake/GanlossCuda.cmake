# The CUDA language, with a default architecture list only when the user gave none.
if(NOT GANLOSS_ENABLE_CUDA)
  return()
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  if(_ganloss_python_gpu)
    # pip install . on a machine with a GPU: that GPU only.
    set(CMAKE_CUDA_ARCHITECTURES native)
  else()
    # Turing to Hopper as native code, plus Hopper PTX that newer GPUs compile at load time.
    set(CMAKE_CUDA_ARCHITECTURES "75-real;80-real;90-real;90-virtual")
  endif()
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)
find_package(CUDAToolkit REQUIRED)
