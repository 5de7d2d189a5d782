// Pattern generation (paper Fig. S7, eprop-math.md section 8): a network
// driven by frozen Poisson input learns to produce a fixed target pattern,
// a sum of four sines.
#ifndef EPROP_CORE_TASKS_PATTERN_GENERATION_H_
#define EPROP_CORE_TASKS_PATTERN_GENERATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "core/learn/firing_rate.h"
#include "core/learn/optimizer.h"
#include "core/model/network_config.h"
#include "core/sim/sparse_rows.h"
#include "core/util/eigen_types.h"

namespace eprop {

struct PatternGenerationConfig {
  int n_inputs = 100;
  int steps = 1000;  // T [ms], dt = 1 ms
  double input_rate_hz = 50.0;
  int n_outputs = 1;
  uint64_t seed = 0;  // draws the frozen input and the target

  absl::Status Validate() const;
};

// One frozen sample: the same input and target at every iteration.
struct PatternGenerationData {
  MatF inputs_dense;         // [steps x n_inputs] spikes
  SparseRows<float> inputs;  // the same, sparse
  MatF target;               // [steps x n_outputs]
  double target_variance = 0;  // over all steps and outputs
};

// The target of each output is sum_{k} A_k sin(2 pi t / P_k + phi_k) with
// periods P = 1000, 500, 333, 200 ms, A_k ~ U(0.5, 2), phi_k ~ U(0, 2 pi),
// shifted to start at 0 and scaled to max |y| = 1.
PatternGenerationData MakePatternGeneration(const PatternGenerationConfig& c);

// The reference network: 100 LIF, tau_m = tau_out = 30 ms, v_th 0.03,
// c_in = 1 - alpha, no refractory period.
NetworkConfig PatternGenerationNetwork(const PatternGenerationConfig& c);

// The reference optimisation: plain SGD with lr 1e-4, firing-rate
// regulariser 300 * 1/2 (fbar - 10 Hz)^2.
OptimizerConfig PatternGenerationOptimizer();
RateRegularizerConfig PatternGenerationRegularizer();

}  // namespace eprop

#endif  // EPROP_CORE_TASKS_PATTERN_GENERATION_H_
