// The cases `ganloss check` runs: loss-kind pairings, shapes that reach every work mapping of
// the backends (single elements, many short rows, rows split into chunks, strided rows), the
// storage dtypes, and a logit generator that visits every numeric regime of the formulas.
#ifndef GANLOSS_CLI_CHECK_CASES_HPP_
#define GANLOSS_CLI_CHECK_CASES_HPP_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ganloss/ganloss.h"

namespace ganloss {
namespace cli {

// A D/G loss pairing, with the logistic targets (label smoothing when below 1 / above 0).
struct CheckPairing {
  int32_t d_loss;
  int32_t g_loss;
  float real_target;
  float fake_target;
};

struct CheckShape {
  const char* name;
  int64_t segments;
  int64_t real_count;
  int64_t fake_count;
  int64_t real_stride;  // 0 = dense
  int64_t fake_stride;
  // Non-default margins, least-squares labels and a loss-scale-like grad_scale.
  bool custom_params;
  // Logits drawn only from infinities, NaN and a few finite values.
  bool non_finite;
  // Also run with f16 and bf16 logits: a subset that still reaches every work mapping of the
  // backends without the longest rows, so that the four 16-bit storages cost less than f32.
  bool sixteen_bit;
};

// How a case stores its logits and its gradients.
struct CheckStorage {
  int32_t dtype;        // ganloss_dtype_t of the logits
  bool fp32_gradients;  // gradients as f32 instead of the logits' dtype
};

std::span<const CheckPairing> check_pairings();
std::span<const CheckShape> check_shapes();

// The storages for `dtype` (every dtype when absent): f32, and each 16-bit dtype with its
// gradients both in that dtype and in f32.
std::vector<CheckStorage> check_storages(std::optional<int32_t> dtype);

// Whether `shape` runs with `storage`: every shape for f32, the sixteen_bit ones otherwise.
bool runs_with(const CheckShape& shape, const CheckStorage& storage);

// "hinge/nonsaturating" plus the targets when they differ from the defaults.
std::string pairing_name(const CheckPairing& pairing);

// "f32", "f16", "f16/f32grad", "bf16", "bf16/f32grad".
std::string storage_name(const CheckStorage& storage);

ganloss_problem_t make_check_problem(const CheckPairing& pairing, const CheckShape& shape,
                                     int32_t reduction, const CheckStorage& storage);

// `count` logits for one side, reproducible from `seed` on every platform.
std::vector<float> check_logits(int64_t count, uint64_t seed, bool non_finite);

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_CHECK_CASES_HPP_
