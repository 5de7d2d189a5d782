// Sparse Poisson spike trains with piecewise-constant rates.
#ifndef EPROP_CORE_TASKS_POISSON_H_
#define EPROP_CORE_TASKS_POISSON_H_

#include <cstdint>
#include <vector>

#include "core/sim/sparse_rows.h"
#include "core/util/random.h"

namespace eprop {

// Collects spikes (step, sample, input) and assembles them into
// SparseRows over rows t * batch + b.
class SpikeCollector {
 public:
  SpikeCollector(int steps, int batch) : steps_(steps), batch_(batch) {}

  // Bernoulli(p) spikes at every step of [t_begin, t_end) for one sample and
  // input, drawn by geometric gaps: the cost is one draw per spike, not per
  // step, which matters at ~1 % spike probability. p in [0, 1].
  void AddPoisson(Rng& rng, int b, int input, int t_begin, int t_end,
                  double p);

  SparseRows<float> Build() const;

 private:
  int steps_, batch_;
  std::vector<int64_t> rows_;
  std::vector<int32_t> cols_;
};

}  // namespace eprop

#endif  // EPROP_CORE_TASKS_POISSON_H_
