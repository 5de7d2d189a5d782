#include "core/util/random.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace eprop {

double Rng::Uniform() {
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

double Rng::Normal() {
  if (has_cached_normal_) {
    has_cached_normal_ = false;
    return cached_normal_;
  }
  // 1 - Uniform() lies in (0, 1], so the logarithm is finite.
  const double radius = std::sqrt(-2.0 * std::log(1.0 - Uniform()));
  const double angle = 2.0 * M_PI * Uniform();
  cached_normal_ = radius * std::sin(angle);
  has_cached_normal_ = true;
  return radius * std::cos(angle);
}

uint64_t Rng::UniformInt(uint64_t n) {
  // Rejection sampling avoids modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t draw;
  do {
    draw = engine_();
  } while (draw >= limit);
  return draw % n;
}

std::string Rng::SaveState() const {
  std::ostringstream out;
  out.precision(17);
  out << engine_ << ' ' << has_cached_normal_ << ' ' << std::hexfloat
      << cached_normal_;
  return out.str();
}

bool Rng::RestoreState(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 engine;
  int has_cached = 0;
  std::string cached_text;
  if (!(in >> engine >> has_cached >> cached_text)) return false;
  if (has_cached != 0 && has_cached != 1) return false;
  std::string rest;
  if (in >> rest) return false;  // trailing junk
  char* end = nullptr;
  const double cached = std::strtod(cached_text.c_str(), &end);
  if (end == cached_text.c_str() || *end != '\0') return false;
  engine_ = engine;
  has_cached_normal_ = has_cached == 1;
  cached_normal_ = cached;
  return true;
}

}  // namespace eprop
