// A recorded trial of the current network, as the reference figure shows it
// (input and neuron rasters, adaptive thresholds, readout vs target,
// learning signals and eligibility traces).
#ifndef EPROP_CORE_TRAIN_TRIAL_H_
#define EPROP_CORE_TRAIN_TRIAL_H_

#include "core/plot/figures.h"
#include "core/train/trainer.h"

namespace eprop {

// Simulates `batch` with the trainer's current weights and returns sample 0
// for plotting: up to 4 ALIF thresholds, the learning signals
// L_j(t) = sum_k B_jk dE/dy_k(t) of 3 neurons (B as the algorithm uses it;
// W_out^T for BPTT) and the filtered eligibility traces ebar_ji(t) of the
// input synapse with the most presynaptic spikes onto 3 neurons (eq. 25).
plot::TrialData RecordTrial(Trainer& trainer, const TaskBatch& batch);

}  // namespace eprop

#endif  // EPROP_CORE_TRAIN_TRIAL_H_
