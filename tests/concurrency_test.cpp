// The host backends called from many threads at once give the same bits as serial calls, each
// thread keeps its own error message, and the CPU backend's worker pool (the library's one
// shared state) hands out every item once, keeps its threads from call to call, survives a
// refused thread and fork(), and lets the process exit. Run under ThreadSanitizer too.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
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

TEST(Concurrency, PoolPassesOnAnException) {
  // Thrown by an item on whichever thread runs it, rethrown to the caller once every thread is
  // done; the pool goes on working.
  for (int threads : {1, 2, 4}) {
    std::atomic<int> visited{0};
    EXPECT_THROW(detail::parallel_for(1000, threads, 1,
                                      [&visited](int64_t i) {
                                        ++visited;
                                        if (i == 500) throw std::runtime_error("item 500");
                                      }),
                 std::runtime_error);
    EXPECT_GE(visited.load(), 501);
    std::atomic<int64_t> sum{0};
    detail::parallel_for(1000, threads, 7, [&sum](int64_t i) { sum += i; });
    EXPECT_EQ(sum.load(), 999 * 1000 / 2);
  }
}

TEST(Concurrency, PoolHandsOutLongRunsOfItems) {
  // Guided batches: each batch is a quarter of the items left with two threads (at least one
  // item), so 100000 items go out in exactly 41 batches whichever thread takes each, and the
  // items fall into at most 41 runs of consecutive items run by one thread. Items handed out
  // one at a time would alternate between the threads far more often. Each item takes 200 ns,
  // so that the worker joins in well before the caller is done.
  constexpr std::size_t kItems = 100000;
  std::vector<std::thread::id> owner(kItems);
  for (int round = 0; round < 5; ++round) {
    detail::parallel_for(static_cast<int64_t>(kItems), 2, 1, [&owner](int64_t i) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(200);
      while (std::chrono::steady_clock::now() < until) {
      }
      owner[static_cast<std::size_t>(i)] = std::this_thread::get_id();
    });
    int runs = 1;
    for (std::size_t i = 1; i < kItems; ++i)
      runs += owner[i] != owner[i - 1] ? 1 : 0;
    EXPECT_LE(runs, 41) << "round " << round;
  }
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
// Waits for process `pid`, which must exit with status 0 (a hang ends it by SIGALRM).
void expect_exit_success(pid_t pid) {
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << "child ended by signal " << WTERMSIG(status);
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

// Runs `child` in a forked child process, which exits with 0 if it returned true, within a
// minute. It leaves by _exit(): LeakSanitizer's check at exit in the child of a multi-threaded
// process warns about the parent's threads, which it cannot suspend there. The next test
// covers a normal exit.
template <class Child>
void expect_child_succeeds(const Child& child) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(60);
    _exit(child() ? 0 : 3);
  }
  expect_exit_success(pid);
}

constexpr char kExitChild[] = "GANLOSS_TEST_EXIT_CHILD";

// This test binary, run again with only this test and kExitChild set: it leaves workers of
// several calls blocked in the pool and returns from main. exit() must join them without
// hanging and, in sanitized builds, without a report (a leak or a race fails the exit status).
TEST(Concurrency, ProcessExitJoinsTheWorkers) {
  if (std::getenv(kExitChild) != nullptr) {
    std::vector<std::thread> callers;
    for (int t = 0; t < 3; ++t) {
      callers.emplace_back([t] {
        HostCall call = long_call(static_cast<uint64_t>(t));
        EXPECT_EQ(call.run(call.all_outputs(), GANLOSS_BACKEND_CPU, 2), GANLOSS_STATUS_SUCCESS);
      });
    }
    for (std::thread& t : callers)
      t.join();
    EXPECT_GE(detail::pool_worker_count(), 1);
    return;
  }
  // Arguments and environment are built before fork(); the child only calls execve.
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string filter = "--gtest_filter=Concurrency.ProcessExitJoinsTheWorkers";
  std::string flag = std::string(kExitChild) + "=1";
  std::vector<char*> argv = {self.data(), filter.data(), nullptr};
  std::vector<char*> envp;
  // Without the parent's shard settings (GTEST_TOTAL_SHARDS, GTEST_SHARD_INDEX, GTEST_FILTER):
  // the child runs exactly the one test its filter names.
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "GTEST_", 6) != 0) envp.push_back(*e);
  }
  envp.push_back(flag.data());
  envp.push_back(nullptr);
  std::FILE* output = std::tmpfile();  // the child's stdout: did it run the test?
  ASSERT_NE(output, nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(120);  // kept across execve
    dup2(fileno(output), STDOUT_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  expect_exit_success(pid);
  std::rewind(output);
  std::string text;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, output)) > 0;)
    text.append(buffer, n);
  std::fclose(output);
  EXPECT_NE(text.find("[       OK ] Concurrency.ProcessExitJoinsTheWorkers"), std::string::npos)
      << text;
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
  // for them.
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
