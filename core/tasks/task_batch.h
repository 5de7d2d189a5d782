// What a task hands the trainer for one batch: inputs plus either
// regression targets or class labels with a per-step mask. Rows of every
// [steps*batch x .] matrix are t * batch + b.
#ifndef EPROP_CORE_TASKS_TASK_BATCH_H_
#define EPROP_CORE_TASKS_TASK_BATCH_H_

#include <cstdint>
#include <vector>

#include "core/sim/sparse_rows.h"
#include "core/util/eigen_types.h"

namespace eprop {

struct TaskBatch {
  int steps = 0;
  int batch = 0;
  SparseRows<float> inputs;  // [steps*batch x n_in]
  bool classification = false;
  // Regression: [steps*batch x n_out] and the variance used to normalise
  // the MSE (over all entries of the target).
  MatF target;
  double target_variance = 1.0;
  // Classification: per-row label and mask (1 = the row counts in the loss
  // and in the decision), and the label of each sample.
  std::vector<int32_t> labels;
  std::vector<uint8_t> mask;
  std::vector<int32_t> sample_labels;
};

}  // namespace eprop

#endif  // EPROP_CORE_TASKS_TASK_BATCH_H_
