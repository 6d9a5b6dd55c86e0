// GANLOSS_TEST_SANITIZED: defined when this build runs under AddressSanitizer or
// ThreadSanitizer (GCC defines the macros, Clang answers __has_feature). Such builds skip or
// shrink the tests that need many gigabytes, many emulated threads or many processes.
#ifndef GANLOSS_TESTS_SANITIZED_HPP_
#define GANLOSS_TESTS_SANITIZED_HPP_

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GANLOSS_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define GANLOSS_TEST_SANITIZED 1
#endif
#endif

#endif  // GANLOSS_TESTS_SANITIZED_HPP_
