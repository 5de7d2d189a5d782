// Figures of a trained network as standalone SVG documents: the spike
// rasters, thresholds, readout and learning signals of one trial (in the
// style of Fig. 3 of Bellec et al. 2020), and learning curves of a run.
//
// Element classes the documents use (stable, relied on by tests and tools):
//   panel-title, axis-label, tick-label, figure-title, message, legend-entry,
//   series (one <polyline> per run of a plotted line), point (an isolated
//   point of a line), band, target-band, threshold-baseline, and one <rect>
//   per drawn spike: spike-in (inputs), spike-lif, spike-alif.
#ifndef EPROP_CORE_PLOT_FIGURES_H_
#define EPROP_CORE_PLOT_FIGURES_H_

#include <string>
#include <vector>

#include "core/train/metrics.h"
#include "core/util/eigen_types.h"

namespace eprop::plot {

// One trial (one batch sample) of a network. Rows are time steps 0..T-1,
// drawn at t * dt_ms. Spike matrices hold 0/1 (a value > 0.5 is a spike).
// Empty matrices skip their panel; inconsistent optional fields (group
// vectors of the wrong size, names missing) are ignored or replaced by
// defaults, never an error.
struct TrialData {
  std::string title;
  double dt_ms = 1.0;
  MatD inputs;  // [T x n_in] 0/1
  // Optional, one name per group.
  std::vector<std::string> input_group_names;
  // Optional, group index per input (size n_in).
  std::vector<int> input_group;
  MatD lif_spikes, alif_spikes;  // [T x n_lif], [T x n_alif] 0/1
  // [T x k] A_j(t) of up to k ALIF neurons (may be empty).
  MatD alif_thresholds;
  double v_th = 0;  // baseline threshold, drawn as a dashed line
  bool classification = true;
  // [T x n_out]: probabilities (classification) or y(t).
  MatD output;
  // [T x n_out]: one-hot target (classification, may be zero on unmasked
  // steps) or y*(t).
  MatD target;
  std::vector<std::string> output_names;  // optional ("left", "right")
  MatD learning_signals;                  // [T x k] (may be empty)
  MatD eligibility_traces;                // [T x k] (may be empty)
};

// Most neurons a LIF or ALIF raster shows (the first ones of the population).
inline constexpr int kMaxRasterNeurons = 40;
// Most lines a threshold, learning-signal or trace panel shows (the first
// columns).
inline constexpr int kMaxTracePanelLines = 5;

// Stacked panels sharing the time axis (ms), lettered (a), (b), ... in
// order of appearance: input raster (colour-coded by group, with a legend,
// when groups are given); LIF raster; ALIF raster; ALIF thresholds with the
// baseline v_th dashed; readout (classification: output probabilities per
// class with the steps of each target class shaded in its colour;
// regression: y(t) solid and y*(t) dashed per output); learning signals;
// eligibility traces. A group named "background" is drawn grey. A trial with
// no time steps gives a document saying "no data".
std::string TrialFigure(const TrialData& d);

// Three panels over training iterations: task loss (and the regularisation
// loss if any is non-zero); task error in % (or the normalised MSE when no
// error is finite); firing rate (mean over all neurons, and per population
// its mean as a line and min-max as a band). Non-finite values are skipped.
// An empty history gives a document saying "no data".
std::string LearningCurves(const std::vector<IterationMetrics>& history,
                           const std::string& title);

}  // namespace eprop::plot

#endif  // EPROP_CORE_PLOT_FIGURES_H_
