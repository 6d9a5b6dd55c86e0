// Decoding a libFuzzer input: little-endian fields read from the front, zeros past the end, so
// every byte string is a valid input and a field keeps its position under mutation (libFuzzer's
// comparison tracing can then steer each field on its own). tests/fuzz/make_corpus.py writes
// seeds in the same layout.
#ifndef GANLOSS_TESTS_FUZZ_BYTE_READER_HPP_
#define GANLOSS_TESTS_FUZZ_BYTE_READER_HPP_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <type_traits>

namespace ganloss {
namespace fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  // The next sizeof(T) bytes as a little-endian T; missing bytes read as zero.
  template <class T>
  T read() {
    static_assert(std::is_trivially_copyable_v<T>);
    uint8_t bytes[sizeof(T)] = {};
    for (std::size_t i = 0; i < sizeof(T) && pos_ < size_; ++i)
      bytes[i] = data_[pos_++];
    T value;
    std::memcpy(&value, bytes, sizeof(T));
    return value;
  }

  uint8_t u8() { return read<uint8_t>(); }
  uint16_t u16() { return read<uint16_t>(); }
  uint32_t u32() { return read<uint32_t>(); }
  int32_t i32() { return read<int32_t>(); }
  int64_t i64() { return read<int64_t>(); }
  float f32() { return read<float>(); }

  // Whatever the fixed fields left: the payload that fills buffers.
  std::span<const uint8_t> rest() const { return {data_ + pos_, size_ - pos_}; }

 private:
  const uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// Cycles through a payload forever (zeros for an empty one), so that any input fills any
// buffer.
class PayloadCycle {
 public:
  explicit PayloadCycle(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint8_t next() {
    if (bytes_.empty()) return 0;
    const uint8_t b = bytes_[pos_];
    pos_ = (pos_ + 1) % bytes_.size();
    return b;
  }
  template <class T>
  T next_as() {
    uint8_t b[sizeof(T)];
    for (auto& x : b)
      x = next();
    T value;
    std::memcpy(&value, b, sizeof(T));
    return value;
  }

 private:
  std::span<const uint8_t> bytes_;
  std::size_t pos_ = 0;
};

// A failed invariant: says what and where, then aborts so that libFuzzer records the input.
[[noreturn]] inline void fail_invariant(const char* file, int line, const char* what) {
  std::fprintf(stderr, "\n%s:%d: fuzz invariant failed: %s\n", file, line, what);
  std::fflush(stderr);
  std::abort();
}

}  // namespace fuzz
}  // namespace ganloss

// Checked in every build type (NDEBUG does not turn it off).
#define FUZZ_CHECK(cond)                                                     \
  do {                                                                       \
    if (!(cond)) ::ganloss::fuzz::fail_invariant(__FILE__, __LINE__, #cond); \
  } while (0)

#define FUZZ_FAIL(what) ::ganloss::fuzz::fail_invariant(__FILE__, __LINE__, what)

#endif  // GANLOSS_TESTS_FUZZ_BYTE_READER_HPP_
