// CPU pieces for x86-64 processors with AVX2 and FMA (compiled with -mavx2 -mfma).
#define GANLOSS_CPU_ISA avx2
#include "cpu_pieces.inl"
