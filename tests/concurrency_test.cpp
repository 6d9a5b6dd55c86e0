// The library keeps no shared state: the host backends called from many threads at once give
// the same bits as serial calls, and each thread keeps its own error message. Run under
// ThreadSanitizer too.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "family_cases.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace {

using testing::HostCall;

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

}  // namespace
}  // namespace ganloss
