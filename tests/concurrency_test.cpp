// The host backends called from many threads at once give the same bits as serial calls, each
// thread keeps its own error message, and the CPU backend's worker pool (the library's one
// shared state) hands out every item once, keeps its threads from call to call, survives a
// refused thread and fork(), and lets the process exit. Run under ThreadSanitizer too.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#endif

#include "family_cases.hpp"
#include "test_support.hpp"
#include "thread_pool.hpp"

// ThreadSanitizer does not support threads started in the child of a multi-threaded fork().
#if defined(__SANITIZE_THREAD__)
#define GANLOSS_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GANLOSS_TEST_TSAN 1
#endif
#endif

namespace ganloss {
namespace {

using testing::HostCall;

// One long segment: 2^18 logits are 32 work items, enough for every thread count used here.
HostCall long_call(uint64_t seed) {
  return HostCall(testing::make_problem(1, 1 << 17, 1 << 17, GANLOSS_LOSS_NONSATURATING,
                                        GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN),
                  seed);
}

#if defined(__linux__)
int os_threads() {
  const std::filesystem::path tasks("/proc/self/task");
  return static_cast<int>(std::distance(std::filesystem::directory_iterator(tasks),
                                        std::filesystem::directory_iterator()));
}
#endif

TEST(Concurrency, HostBackendsFromManyThreadsMatchSerialCalls) {
  // A mix of kinds, passes, regimes and layouts; each thread runs its own calls repeatedly.
  const std::vector<testing::FamilyCase> all = testing::family_cases();
  std::vector<testing::FamilyCase> cases;
  for (std::size_t i = 0; i < all.size() && cases.size() < 8; i += all.size() / 8) {
    cases.push_back(all[i]);
  }
  std::vector<std::vector<uint8_t>> serial;
  for (const auto& c : cases) {
    HostCall call = testing::make_family_call(c);
    ASSERT_EQ(call.run(call.all_outputs(), GANLOSS_BACKEND_CPU, 2), GANLOSS_STATUS_SUCCESS);
    serial.push_back(call.output_bytes());
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < cases.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 3; ++repeat) {
        HostCall call = testing::make_family_call(cases[t]);
        const int32_t backend = repeat == 2 ? GANLOSS_BACKEND_REFERENCE : GANLOSS_BACKEND_CPU;
        if (call.run(call.all_outputs(), backend, 2) != GANLOSS_STATUS_SUCCESS) ++mismatches;
        if (backend == GANLOSS_BACKEND_CPU && call.output_bytes() != serial[t]) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Concurrency, ErrorMessagesArePerThread) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      ganloss_problem_t p;
      ganloss_problem_init(&p);
      p.real_count = 4;
      p.fake_count = 4;
      std::size_t bytes = 0;
      for (int i = 0; i < 200; ++i) {
        p.segments = (t + i) % 2 ? 1 : -t - 1;  // every other call fails, differently per thread
        const ganloss_status_t s = ganloss_workspace_size(&p, GANLOSS_BACKEND_CPU, &bytes);
        const std::string message = ganloss_last_error_message();
        if (p.segments == 1) {
          if (s != GANLOSS_STATUS_SUCCESS || !message.empty()) ++wrong;
        } else if (s != GANLOSS_STATUS_INVALID_SIZE ||
                   message.find("got " + std::to_string(p.segments)) == std::string::npos) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Concurrency, PoolRunsEveryItemOnceFromManyThreads) {
  // Callers at once, each with its own loops of varied sizes, thread counts and grains: every
  // item is visited exactly once, and its write is visible to the caller when the loop returns.
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 6; ++t) {
    callers.emplace_back([&wrong, t] {
      for (int r = 0; r < 30; ++r) {
        const int64_t items = 1 + (r * 977 + t * 131) % 5000;
        std::vector<int> visits(static_cast<std::size_t>(items), 0);
        detail::parallel_for(items, 1 + (t + r) % 4, 1 + r % 7,
                             [&visits](int64_t i) { ++visits[static_cast<std::size_t>(i)]; });
        wrong += static_cast<int>(
            std::count_if(visits.begin(), visits.end(), [](int v) { return v != 1; }));
      }
    });
  }
  for (std::thread& t : callers)
    t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Concurrency, PoolKeepsItsThreadsFromCallToCall) {
  HostCall call = long_call(3);
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU, 3), GANLOSS_STATUS_SUCCESS);
  const std::vector<uint8_t> first = call.output_bytes();
  const int workers = detail::pool_worker_count();
  EXPECT_GE(workers, 2);
#if defined(__linux__)
  const int threads = os_threads();
#endif
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU, 2 + i % 2), GANLOSS_STATUS_SUCCESS);
    EXPECT_TRUE(call.output_bytes() == first) << "call " << i;
  }
  EXPECT_EQ(detail::pool_worker_count(), workers);
#if defined(__linux__)
  EXPECT_EQ(os_threads(), threads);
  // The threads that run items, over many loops: the caller and the pool's workers, not new
  // ones per loop (Linux does not soon reuse a thread id).
  std::mutex mutex;
  std::set<long> ids;
  for (int i = 0; i < 20; ++i) {
    detail::parallel_for(64, 3, 1, [&](int64_t) {
      const long id = static_cast<long>(syscall(SYS_gettid));
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      const std::lock_guard<std::mutex> lock(mutex);
      ids.insert(id);
    });
  }
  EXPECT_LE(static_cast<int>(ids.size()), 1 + detail::pool_worker_count());
#endif
}

TEST(Concurrency, RefusedThreadsDoNotFailTheCall) {
  HostCall call = long_call(5);
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU, 1), GANLOSS_STATUS_SUCCESS);
  const std::vector<uint8_t> serial = call.output_bytes();
  // More threads than the pool holds: every worker it tries to add is refused.
  const int workers = detail::pool_worker_count();
  detail::refuse_worker_threads_for_testing(true);
  const ganloss_status_t status = call.run(o, GANLOSS_BACKEND_CPU, workers + 4);
  const int workers_after = detail::pool_worker_count();
  detail::refuse_worker_threads_for_testing(false);
  ASSERT_EQ(status, GANLOSS_STATUS_SUCCESS);
  EXPECT_TRUE(call.output_bytes() == serial);
  EXPECT_EQ(workers_after, workers);
}

#if defined(__linux__)
// Runs `child` in a child process, which exits through exit() (static destructors, the pool's
// shutdown and, in sanitized builds, the leak check run) with 0 if it returned true; expects
// that status within a minute.
template <class Child>
void expect_child_succeeds(const Child& child) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(60);  // a hang kills the child with SIGALRM
    std::exit(child() ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << "child ended by signal " << WTERMSIG(status);
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

TEST(Concurrency, ForkedChildStartsItsOwnWorkers) {
#if defined(GANLOSS_TEST_TSAN)
  GTEST_SKIP() << "ThreadSanitizer does not support threads after a multi-threaded fork";
#else
  HostCall call = long_call(7);
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU, 2), GANLOSS_STATUS_SUCCESS);
  ASSERT_GE(detail::pool_worker_count(), 1);
  const std::vector<uint8_t> expected = call.output_bytes();
  // The parent's workers do not exist in the child: its calls must start their own, not wait
  // for them. Then exit() must join them.
  expect_child_succeeds([&] {
    if (detail::pool_worker_count() != 0) return false;
    for (int i = 0; i < 3; ++i) {
      if (call.run(o, GANLOSS_BACKEND_CPU, 2) != GANLOSS_STATUS_SUCCESS) return false;
      if (call.output_bytes() != expected) return false;
    }
    return detail::pool_worker_count() >= 1;
  });
  // And the parent's pool still works.
  ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU, 2), GANLOSS_STATUS_SUCCESS);
  EXPECT_TRUE(call.output_bytes() == expected);
#endif
}
#endif

}  // namespace
}  // namespace ganloss
