// Seeded, reproducible random numbers.
//
// The engine is std::mt19937_64, whose output sequence the C++ standard fixes,
// so a seed gives the same bits on every conforming platform. The
// distributions are implemented here (the standard library's are not
// specified bit-for-bit): Uniform() takes the top 53 bits of one draw,
// Normal() uses the Box-Muller transform on two uniforms and caches the
// second value.
#ifndef EPROP_CORE_UTIL_RANDOM_H_
#define EPROP_CORE_UTIL_RANDOM_H_

#include <cstdint>
#include <random>
#include <string>

namespace eprop {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1).
  double Uniform();
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Standard normal N(0, 1).
  double Normal();
  // True with probability p.
  bool Bernoulli(double p) { return Uniform() < p; }
  // Uniform integer in [0, n).
  uint64_t UniformInt(uint64_t n);

  // Complete generator state as text (engine and cached normal), so that a
  // restored generator continues the same sequence.
  std::string SaveState() const;
  bool RestoreState(const std::string& state);

 private:
  std::mt19937_64 engine_;
  bool has_cached_normal_ = false;
  double cached_normal_ = 0.0;
};

}  // namespace eprop

#endif  // EPROP_CORE_UTIL_RANDOM_H_
