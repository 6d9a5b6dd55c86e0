// A plan (ganloss_plan_t): a problem validated once for one backend, with what its executions
// need fixed at creation. Immutable once created, so any number of threads may execute one plan
// at once; ganloss_plan_destroy frees it.
#ifndef GANLOSS_SRC_PLAN_HPP_
#define GANLOSS_SRC_PLAN_HPP_

#include <cstddef>

#include "ganloss/ganloss.h"

struct ganloss_plan {
  ganloss_problem_t problem;      // accepted by validate_problem()
  ganloss_execution_t execution;  // backend, cpu_threads and check_memory
  std::size_t workspace_bytes;    // what every execution and VJP call of the plan needs
  int device;                     // CUDA: the device current at creation; -1 otherwise
};

#endif  // GANLOSS_SRC_PLAN_HPP_
