// The rows, shapes and input generator of `ganloss check`; see check_cases.hpp.
#include "check_cases.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <span>

#include "enum_names.hpp"

namespace ganloss {
namespace cli {
namespace {

constexpr CheckPairing kPairings[] = {
    // Every kind against itself.
    {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING, 1.0f, 0.0f},
    {GANLOSS_LOSS_MINIMAX, GANLOSS_LOSS_MINIMAX, 1.0f, 0.0f},
    {GANLOSS_LOSS_HINGE, GANLOSS_LOSS_HINGE, 1.0f, 0.0f},
    {GANLOSS_LOSS_WASSERSTEIN, GANLOSS_LOSS_WASSERSTEIN, 1.0f, 0.0f},
    {GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_LOSS_LEAST_SQUARES, 1.0f, 0.0f},
    // Mixed pairings: every kind once as D and once as G with a different partner.
    {GANLOSS_LOSS_HINGE, GANLOSS_LOSS_NONSATURATING, 1.0f, 0.0f},
    {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_LEAST_SQUARES, 1.0f, 0.0f},
    {GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_LOSS_WASSERSTEIN, 1.0f, 0.0f},
    {GANLOSS_LOSS_WASSERSTEIN, GANLOSS_LOSS_MINIMAX, 1.0f, 0.0f},
    {GANLOSS_LOSS_MINIMAX, GANLOSS_LOSS_HINGE, 1.0f, 0.0f},
    // Label smoothing: one-sided (t = 1 - 0.1) and two-sided TF-GAN style (t = 1 - 0.25 / 2).
    {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING, 0.9f, 0.0f},
    {GANLOSS_LOSS_MINIMAX, GANLOSS_LOSS_MINIMAX, 0.875f, 0.125f},
};

// Sizes chosen against the backends' work mappings. CPU: 8192-element chunks (20001 and 17000
// split into 3, 100003 into 13; short rows packed into one item). CUDA, by row length
// L = Nr + Nf: a warp per row up to 2048 (7x(1024,1024) sits on the limit), a block per row up
// to 16384 (2x(1300,1100) is the short one, for the 16-bit runs), chunks beyond (3x(8192,8193)
// leaves a one-element last chunk). The strided rows start at odd offsets, away from 16-byte
// vector alignment.
//
// The family's shapes: short rows, a block-length row, rows long enough for the CUDA chunk
// regime even for the paired kind (whose row is its Nr pairs), strided rows with custom
// parameters, non-finite logits, and ragged segments whose average length puts the CUDA kernel
// in the warp (below 2048) and in the block regime (above), each with empty segments and one
// segment longer than a warp's row.
constexpr CheckShape kShapes[] = {
    {"1x1", 1, 1, 1, 0, 0, false, false, true, false, false},
    {"1x(7,4)", 1, 7, 4, 0, 0, false, false, true, false, false},
    {"1000x(5,3)", 1000, 5, 3, 0, 0, false, false, true, false, false},
    {"7x(1024,1024)", 7, 1024, 1024, 0, 0, false, false, true, false, false},
    {"40x(2500,1800)", 40, 2500, 1800, 0, 0, false, false, false, false, false},
    {"2x(1300,1100)", 2, 1300, 1100, 0, 0, false, false, true, false, false},
    {"3x20001", 3, 20001, 20001, 0, 0, false, false, false, false, false},
    {"3x(8192,8193)", 3, 8192, 8193, 0, 0, false, false, true, false, false},
    {"2x(17000,16999)", 2, 17000, 16999, 0, 0, false, false, false, false, false},
    {"1x100003", 1, 100003, 100003, 0, 0, false, false, false, false, false},
    {"5x(100/131,61/64) params", 5, 100, 61, 131, 64, true, false, true, false, false},
    {"3x(9,8) non-finite", 3, 9, 8, 0, 0, false, true, true, false, false},
    // The family's.
    {"1x1", 1, 1, 1, 0, 0, false, false, true, true, false},
    {"64x(9,7)", 64, 9, 7, 0, 0, false, false, true, true, false},
    {"3x(1500,1200)", 3, 1500, 1200, 0, 0, false, false, true, true, false},
    {"2x(16400,16000)", 2, 16400, 16000, 0, 0, false, false, false, true, false},
    {"4x(100/131,61/64) params", 4, 100, 61, 131, 64, true, false, true, true, false},
    {"3x(9,8) non-finite", 3, 9, 8, 0, 0, false, true, true, true, false},
    {"ragged 100x(~12,~9)", 100, 12, 9, 0, 0, false, false, true, true, true},
    {"ragged 6x(~1500,~1300)", 6, 1500, 1300, 0, 0, false, false, true, true, true},
};

// The family's pairings: the relativistic kinds, and two basic ones (one with label smoothing,
// one mixed) with weights and ragged segments.
constexpr CheckPairing kRelativistic[] = {
    {GANLOSS_LOSS_RELATIVISTIC, GANLOSS_LOSS_RELATIVISTIC, 1.0f, 0.0f},
    {GANLOSS_LOSS_RELATIVISTIC_AVERAGE, GANLOSS_LOSS_RELATIVISTIC_AVERAGE, 1.0f, 0.0f},
    {GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE, GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE, 1.0f, 0.0f},
    {GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES,
     GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES, 1.0f, 0.0f},
};
constexpr CheckPairing kWeightedBasic[] = {
    {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING, 0.9f, 0.0f},
    {GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_LOSS_HINGE, 1.0f, 0.0f},
};

constexpr int32_t kBasicReductions[] = {GANLOSS_REDUCTION_NONE, GANLOSS_REDUCTION_SUM,
                                        GANLOSS_REDUCTION_MEAN};
constexpr int32_t kAllReductions[] = {GANLOSS_REDUCTION_NONE, GANLOSS_REDUCTION_SUM,
                                      GANLOSS_REDUCTION_MEAN, GANLOSS_REDUCTION_MEAN_NONZERO};

// A ragged segment this long makes every CUDA thread of a warp loop over several elements.
constexpr int64_t kLongSegment = 3000;

// splitmix64: tiny, and the same sequence everywhere (the standard distributions are not).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float symmetric() { return static_cast<float>(next() >> 40) * 0x1p-23f - 1.0f; }
  float sign() { return (next() & 1) ? 1.0f : -1.0f; }
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t state_;
};

// Values at which a formula changes branch: 0, the default hinge kinks at +-1, the custom
// margins 0.5 and 2, the least-squares labels.
constexpr float kSpecial[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -0.5f, 2.0f, -2.0f};

float finite_logit(Random& rng) {
  switch (rng.below(16)) {
    case 0:
      return rng.symmetric() * 1e-3f;
    case 1:
      return rng.symmetric() * 1e-38f;  // subnormal and tiny normal inputs
    case 2:
      return rng.sign() * (30.0f + rng.symmetric());
    case 3:
      return rng.sign() * (88.0f + rng.symmetric());  // exp(x) overflows f32 near 88.7
    case 4:
      return rng.sign() * 1e4f * (0.75f + 0.25f * rng.symmetric());
    case 5:
      return rng.sign() * (17.0f + rng.symmetric());  // 1 - sigmoid(x) cancels to 0 beyond ~17
    case 6:
      return kSpecial[rng.below(sizeof kSpecial / sizeof kSpecial[0])];
    default:
      return 8.0f * rng.symmetric();
  }
}

// Weights: 0 (a tenth: terms that mean-nonzero leaves out), 1, or uniform in [0, 2); every
// segment s with s % 11 == 5 weighs nothing at all (a mean over a zero weight sum is 0).
std::vector<float> check_weights(const CheckShape& shape, int64_t stride,
                                 std::span<const int64_t> offsets, int64_t extent, uint64_t seed) {
  Random rng(seed);
  std::vector<float> w(static_cast<std::size_t>(extent));
  for (float& v : w) {
    const uint64_t k = rng.below(10);
    v = k == 0 ? 0.0f : k == 1 ? 1.0f : 1.0f + rng.symmetric();
  }
  for (int64_t s = 5; s < shape.segments; s += 11) {
    const int64_t begin = offsets.empty() ? s * stride : offsets[static_cast<std::size_t>(s)];
    const int64_t end = offsets.empty() ? begin + stride : offsets[static_cast<std::size_t>(s + 1)];
    for (int64_t i = begin; i < end && i < extent; ++i)
      w[static_cast<std::size_t>(i)] = 0.0f;
  }
  return w;
}

// Offsets of a ragged shape: lengths uniform in [0, 2 * average], every seventh segment empty
// and segment 1 kLongSegment long.
std::vector<int64_t> check_offsets(int64_t segments, int64_t average, uint64_t seed) {
  Random rng(seed);
  std::vector<int64_t> offsets(static_cast<std::size_t>(segments + 1), 0);
  for (int64_t s = 0; s < segments; ++s) {
    int64_t n = static_cast<int64_t>(rng.below(static_cast<uint64_t>(2 * average + 1)));
    if (s % 7 == 3) n = 0;
    if (s == 1) n = kLongSegment;
    offsets[static_cast<std::size_t>(s + 1)] = offsets[static_cast<std::size_t>(s)] + n;
  }
  return offsets;
}

}  // namespace

std::span<const CheckShape> check_shapes() {
  return kShapes;
}

std::vector<CheckStorage> check_storages(std::optional<int32_t> dtype) {
  std::vector<CheckStorage> storages;
  for (const int32_t d : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16}) {
    if (dtype && *dtype != d) continue;
    storages.push_back(CheckStorage{d, false});
    // With f32 logits, f32 gradients are the default storage: nothing new to check.
    if (d != GANLOSS_DTYPE_F32) storages.push_back(CheckStorage{d, true});
  }
  return storages;
}

std::vector<CheckRow> check_rows(std::span<const CheckStorage> storages) {
  std::vector<CheckRow> rows;
  for (const CheckStorage& storage : storages) {
    for (const CheckPairing& pairing : kPairings) {
      for (const int32_t reduction : kBasicReductions)
        rows.push_back(CheckRow{pairing, reduction, storage, false, false, false});
    }
    if (storage.dtype == GANLOSS_DTYPE_F32) {
      // Every relativistic kind x reduction x input form; the basic kinds with weights or
      // ragged segments (without either, the basic matrix has them).
      for (const CheckPairing& pairing : kRelativistic) {
        for (const int32_t reduction : kAllReductions) {
          for (const bool ragged : {false, true}) {
            for (const bool weighted : {false, true})
              rows.push_back(CheckRow{pairing, reduction, storage, true, weighted, ragged});
          }
        }
      }
      for (const CheckPairing& pairing : kWeightedBasic) {
        for (const int32_t reduction : kAllReductions) {
          rows.push_back(CheckRow{pairing, reduction, storage, true, true, false});
          rows.push_back(CheckRow{pairing, reduction, storage, true, false, true});
          rows.push_back(CheckRow{pairing, reduction, storage, true, true, true});
        }
      }
    } else {
      // 16 bits: each family pairing with weights, fixed-length under mean and ragged under
      // mean-nonzero (the storage changes the logits and gradients, not the reductions).
      for (const auto& list : {std::span<const CheckPairing>(kRelativistic),
                               std::span<const CheckPairing>(kWeightedBasic)}) {
        for (const CheckPairing& pairing : list) {
          rows.push_back(CheckRow{pairing, GANLOSS_REDUCTION_MEAN, storage, true, true, false});
          rows.push_back(
              CheckRow{pairing, GANLOSS_REDUCTION_MEAN_NONZERO, storage, true, true, true});
        }
      }
    }
  }
  return rows;
}

bool runs_on(const CheckRow& row, const CheckShape& shape) {
  if (row.storage.dtype != GANLOSS_DTYPE_F32 && !shape.sixteen_bit) return false;
  if (shape.family != row.family) return false;
  return !row.family || shape.ragged == row.ragged;
}

std::string storage_name(const CheckStorage& s) {
  return std::string(dtype_name(s.dtype)) + (s.fp32_gradients ? "/f32grad" : "");
}

std::string pairing_name(const CheckPairing& p) {
  std::string name = loss_kind_name(p.d_loss);
  if (p.g_loss != p.d_loss || !is_relativistic(p.d_loss)) {
    name += std::string("/") + loss_kind_name(p.g_loss);
  }
  if (p.real_target != 1.0f || p.fake_target != 0.0f) {
    char targets[48];
    std::snprintf(targets, sizeof targets, " t=%g/%g", static_cast<double>(p.real_target),
                  static_cast<double>(p.fake_target));
    name += targets;
  }
  return name;
}

std::string inputs_name(const CheckRow& row) {
  if (row.weighted && row.ragged) return "weights,ragged";
  if (row.weighted) return "weights";
  if (row.ragged) return "ragged";
  return "-";
}

CheckData make_check_data(const CheckShape& shape, bool paired, uint64_t seed) {
  CheckData d;
  const int64_t segments = shape.segments;
  d.real_count = shape.real_count;
  d.fake_count = paired ? shape.real_count : shape.fake_count;
  d.real_stride = shape.real_stride;
  d.fake_stride = paired ? shape.real_stride : shape.fake_stride;
  int64_t extent[2] = {0, 0};
  int64_t stride[2] = {0, 0};
  if (shape.ragged) {
    d.real_offsets = check_offsets(segments, shape.real_count, seed ^ 0x51);
    d.fake_offsets =
        paired ? d.real_offsets : check_offsets(segments, shape.fake_count, seed ^ 0x52);
    d.real_count = extent[0] = d.real_offsets.back();
    d.fake_count = extent[1] = d.fake_offsets.back();
    d.real_stride = d.fake_stride = 0;
  } else {
    const int64_t counts[2] = {d.real_count, d.fake_count};
    const int64_t strides[2] = {d.real_stride, d.fake_stride};
    for (int side = 0; side < 2; ++side) {
      stride[side] = (strides[side] == 0 || segments == 1) ? counts[side] : strides[side];
      extent[side] = (segments - 1) * stride[side] + counts[side];
    }
  }
  d.real = check_logits(extent[0], seed ^ 0x11, shape.non_finite);
  d.fake = check_logits(extent[1], seed ^ 0x12, shape.non_finite);
  if (shape.family) {
    d.real_weights = check_weights(shape, stride[0], d.real_offsets, extent[0], seed ^ 0x21);
    d.fake_weights = check_weights(shape, stride[1], d.fake_offsets, extent[1], seed ^ 0x22);
  }
  return d;
}

ganloss_problem_t make_check_problem(const CheckRow& row, const CheckShape& shape,
                                     const CheckData& data) {
  ganloss_problem_t p;
  ganloss_problem_init(&p);
  p.dtype = row.storage.dtype;
  p.fp32_gradients = row.storage.fp32_gradients ? 1 : 0;
  p.segments = shape.segments;
  p.real_count = data.real_count;
  p.fake_count = data.fake_count;
  p.real_stride = data.real_stride;
  p.fake_stride = data.fake_stride;
  p.ragged = shape.ragged ? 1 : 0;
  p.d_loss = row.pairing.d_loss;
  p.g_loss = row.pairing.g_loss;
  p.reduction = row.reduction;
  p.params.real_target = row.pairing.real_target;
  p.params.fake_target = row.pairing.fake_target;
  if (shape.custom_params) {
    p.grad_scale = 128.0f;
    p.params.margin_real = 0.5f;
    p.params.margin_fake = 2.0f;
    p.params.ls_fake_label = -1.0f;
    p.params.ls_real_label = 1.0f;
    p.params.ls_gen_label = 0.0f;
  }
  return p;
}

std::vector<float> check_logits(int64_t count, uint64_t seed, bool non_finite) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  const float odd[] = {kInf, -kInf, kNaN, 0.0f, 1.0f, -1.0f, 1e4f, -1e4f};
  Random rng(seed);
  std::vector<float> values(static_cast<std::size_t>(count));
  for (float& v : values) {
    v = non_finite ? odd[rng.below(sizeof odd / sizeof odd[0])] : finite_logit(rng);
  }
  return values;
}

std::vector<float> normal_logits(int64_t count, uint64_t seed, double mean, double deviation) {
  constexpr double kTwoPi = 6.283185307179586;
  Random rng(seed);
  std::vector<float> values(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < values.size(); i += 2) {
    // u1 in (0, 1], u2 in [0, 1): two independent standard normal values.
    const double u1 = static_cast<double>((rng.next() >> 11) + 1) * 0x1p-53;
    const double u2 = static_cast<double>(rng.next() >> 11) * 0x1p-53;
    const double r = std::sqrt(-2.0 * std::log(u1)) * deviation;
    values[i] = static_cast<float>(mean + r * std::cos(kTwoPi * u2));
    if (i + 1 < values.size()) values[i + 1] = static_cast<float>(mean + r * std::sin(kTwoPi * u2));
  }
  return values;
}

}  // namespace cli
}  // namespace ganloss
