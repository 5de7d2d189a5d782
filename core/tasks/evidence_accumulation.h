// Evidence accumulation (paper Fig. 3, eprop-math.md section 8): an agent
// sees 7 cues on the left or right, then after a delay must report the side
// that had more cues.
//
// 40 inputs in 4 groups of 10: left cues, right cues, recall, background.
// Each trial picks p = 0.7 or 0.3 as the probability that a cue is on the
// left; cue k occupies [k * 150, k * 150 + 100) ms, during which its side's
// group fires at 40 Hz. Background fires at 10 Hz throughout; the recall
// group fires at 40 Hz in the last 150 ms, where the loss and the decision
// are taken (decision: argmax of the readout averaged over those steps).
// T = 7 * 150 + 1200 = 2250 ms.
#ifndef EPROP_CORE_TASKS_EVIDENCE_ACCUMULATION_H_
#define EPROP_CORE_TASKS_EVIDENCE_ACCUMULATION_H_

#include "absl/status/status.h"
#include "core/learn/feedback.h"
#include "core/learn/firing_rate.h"
#include "core/learn/optimizer.h"
#include "core/model/network_config.h"
#include "core/tasks/task_batch.h"
#include "core/util/random.h"

namespace eprop {

struct EvidenceAccumulationConfig {
  int n_cues = 7;
  int cue_ms = 100;
  int cue_spacing_ms = 150;
  int after_cues_ms = 1200;  // delay, then the recall window at the end
  int recall_ms = 150;
  int inputs_per_group = 10;
  double cue_rate_hz = 40.0;
  double recall_rate_hz = 40.0;
  double background_rate_hz = 10.0;
  double p_majority = 0.7;

  int steps() const { return n_cues * cue_spacing_ms + after_cues_ms; }
  int n_inputs() const { return 4 * inputs_per_group; }
  absl::Status Validate() const;
};

// A fresh batch of trials drawn from rng (dt = 1 ms). Two classes:
// 0 = left, 1 = right.
TaskBatch MakeEvidenceBatch(const EvidenceAccumulationConfig& config,
                            int batch, Rng& rng);

// The reference network and learning constants: 50 LIF + 50 ALIF,
// tau_m 20, tau_a 2000, v_th 0.6, n_ref 5, beta = 1.7 (1 - rho)/(1 - alpha),
// tau_out 20; Adam lr 5e-3; c_reg 1 toward 10 Hz; random feedback with unit
// variance.
NetworkConfig EvidenceNetwork(const EvidenceAccumulationConfig& config);
OptimizerConfig EvidenceOptimizer();
RateRegularizerConfig EvidenceRegularizer();
FeedbackConfig EvidenceFeedback(FeedbackMode mode);

}  // namespace eprop

#endif  // EPROP_CORE_TASKS_EVIDENCE_ACCUMULATION_H_
