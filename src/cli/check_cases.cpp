// The case list and logit generator of `ganloss check`; see check_cases.hpp.
#include "check_cases.hpp"

#include <cstdio>
#include <limits>

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
constexpr CheckShape kShapes[] = {
    {"1x1", 1, 1, 1, 0, 0, false, false, true},
    {"1x(7,4)", 1, 7, 4, 0, 0, false, false, true},
    {"1000x(5,3)", 1000, 5, 3, 0, 0, false, false, true},
    {"7x(1024,1024)", 7, 1024, 1024, 0, 0, false, false, true},
    {"40x(2500,1800)", 40, 2500, 1800, 0, 0, false, false, false},
    {"2x(1300,1100)", 2, 1300, 1100, 0, 0, false, false, true},
    {"3x20001", 3, 20001, 20001, 0, 0, false, false, false},
    {"3x(8192,8193)", 3, 8192, 8193, 0, 0, false, false, true},
    {"2x(17000,16999)", 2, 17000, 16999, 0, 0, false, false, false},
    {"1x100003", 1, 100003, 100003, 0, 0, false, false, false},
    {"5x(100/131,61/64) params", 5, 100, 61, 131, 64, true, false, true},
    {"3x(9,8) non-finite", 3, 9, 8, 0, 0, false, true, true},
};

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

}  // namespace

std::span<const CheckPairing> check_pairings() {
  return kPairings;
}
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

bool runs_with(const CheckShape& shape, const CheckStorage& storage) {
  return storage.dtype == GANLOSS_DTYPE_F32 || shape.sixteen_bit;
}

std::string storage_name(const CheckStorage& s) {
  return std::string(dtype_name(s.dtype)) + (s.fp32_gradients ? "/f32grad" : "");
}

std::string pairing_name(const CheckPairing& p) {
  std::string name = std::string(loss_kind_name(p.d_loss)) + "/" + loss_kind_name(p.g_loss);
  if (p.real_target != 1.0f || p.fake_target != 0.0f) {
    char targets[48];
    std::snprintf(targets, sizeof targets, " t=%g/%g", static_cast<double>(p.real_target),
                  static_cast<double>(p.fake_target));
    name += targets;
  }
  return name;
}

ganloss_problem_t make_check_problem(const CheckPairing& pairing, const CheckShape& shape,
                                     int32_t reduction, const CheckStorage& storage) {
  ganloss_problem_t p;
  ganloss_problem_init(&p);
  p.dtype = storage.dtype;
  p.fp32_gradients = storage.fp32_gradients ? 1 : 0;
  p.segments = shape.segments;
  p.real_count = shape.real_count;
  p.fake_count = shape.fake_count;
  p.real_stride = shape.real_stride;
  p.fake_stride = shape.fake_stride;
  p.d_loss = pairing.d_loss;
  p.g_loss = pairing.g_loss;
  p.reduction = reduction;
  p.params.real_target = pairing.real_target;
  p.params.fake_target = pairing.fake_target;
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

}  // namespace cli
}  // namespace ganloss
