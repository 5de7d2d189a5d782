// What a training run records: one entry per validation.
#ifndef EPROP_CORE_TRAIN_METRICS_H_
#define EPROP_CORE_TRAIN_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace eprop {

// Firing-rate statistics of one neuron population over a batch.
struct PopulationRates {
  std::string name;  // "LIF" or "ALIF"
  double mean_hz = 0;
  double min_hz = 0;
  double max_hz = 0;
};

struct IterationMetrics {
  int64_t iteration = 0;     // training iterations completed
  double loss = 0;           // task loss on the validation batch
  double reg_loss = 0;       // firing-rate regulariser on that batch
  // Classification tasks: fraction of wrong decisions; NaN otherwise.
  double error = 0;
  // Regression tasks: MSE / variance of the target; NaN otherwise.
  double nmse = 0;
  double rate_hz = 0;        // mean over all recurrent neurons
  std::vector<PopulationRates> populations;
  double ms_per_iter = 0;    // mean wall time of the training iterations
  double wall_s = 0;         // since the run started
};

}  // namespace eprop

#endif  // EPROP_CORE_TRAIN_METRICS_H_
