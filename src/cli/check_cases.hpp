// The cases `ganloss check` runs, as rows of its report: the basic matrix (loss-kind pairings
// x reductions x dtypes on shapes that reach every work mapping of the backends: single
// elements, many short rows, rows split into chunks, strided rows) and the family beyond it
// (the relativistic kinds, per-element weights and ragged segments, every reduction), with a
// generator of logits, weights and offsets that visits every numeric regime of the formulas.
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
  // Fixed length: the counts per segment. Ragged: each segment's length is drawn from
  // [0, 2 * count] (every seventh segment empty), so these are the average lengths.
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
  bool family;  // a shape of the family rows rather than of the basic matrix
  bool ragged;  // segments given by random offsets
};

// How a case stores its logits and its gradients.
struct CheckStorage {
  int32_t dtype;        // ganloss_dtype_t of the logits
  bool fp32_gradients;  // gradients as f32 instead of the logits' dtype
};

// One row of the report: a pairing, a reduction, a storage and the inputs' form, run on every
// shape that fits it (runs_on()).
struct CheckRow {
  CheckPairing pairing;
  int32_t reduction;
  CheckStorage storage;
  bool family;    // the family's shapes
  bool weighted;  // per-element weights on both sides (the paired kind: on the real side)
  bool ragged;    // the family's ragged shapes instead of its fixed-length ones
};

std::span<const CheckShape> check_shapes();

// The storages for `dtype` (every dtype when absent): f32, and each 16-bit dtype with its
// gradients both in that dtype and in f32.
std::vector<CheckStorage> check_storages(std::optional<int32_t> dtype);

// Every row for `storages`, basic matrix first.
std::vector<CheckRow> check_rows(std::span<const CheckStorage> storages);

// Whether `row` runs on `shape`.
bool runs_on(const CheckRow& row, const CheckShape& shape);

// "hinge/nonsaturating" plus the targets when they differ from the defaults; a relativistic
// kind, always its own partner, once.
std::string pairing_name(const CheckPairing& pairing);

// "f32", "f16", "f16/f32grad", "bf16", "bf16/f32grad".
std::string storage_name(const CheckStorage& storage);

// "-", "weights", "ragged" or "weights,ragged".
std::string inputs_name(const CheckRow& row);

// The inputs of one shape, shared by every row that runs on it (16-bit storages round the
// same values). For the paired relativistic kind both sides have the real side's counts,
// strides and offsets.
struct CheckData {
  int64_t real_count, fake_count;  // per segment, or for a ragged shape the arrays' lengths
  int64_t real_stride, fake_stride;
  std::vector<float> real, fake;                    // over each side's extent
  std::vector<float> real_weights, fake_weights;    // family shapes only
  std::vector<int64_t> real_offsets, fake_offsets;  // ragged shapes: segments + 1
};

// Reproducible from `seed` on every platform.
CheckData make_check_data(const CheckShape& shape, bool paired, uint64_t seed);

ganloss_problem_t make_check_problem(const CheckRow& row, const CheckShape& shape,
                                     const CheckData& data);

// `count` logits for one side, reproducible from `seed` on every platform.
std::vector<float> check_logits(int64_t count, uint64_t seed, bool non_finite);

// `count` normally distributed logits with this mean and standard deviation, reproducible from
// `seed` (Box-Muller over the same generator).
std::vector<float> normal_logits(int64_t count, uint64_t seed, double mean, double deviation);

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_CHECK_CASES_HPP_
