// The figures of a run, shared by `eprop train --local` and `eprop plot`:
// learning curves of a metrics history and one recorded trial of the
// trainer's current network.
#ifndef EPROP_CLIENT_CLI_PLOTS_H_
#define EPROP_CLIENT_CLI_PLOTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/train/metrics.h"
#include "core/train/trainer.h"

namespace eprop::cli {

// Paths of the two figures inside a folder.
std::string LearningCurvesPath(const std::string& dir);
std::string TrialPath(const std::string& dir);

// Writes, each atomically, LearningCurvesPath(dir) from `history` and
// TrialPath(dir): one trial of the trainer's current network on a fresh
// batch drawn from a generator seeded by the run's seed (so the run's own
// data stream is undisturbed and the figure is reproducible). `dir` must
// exist. Returns the first write error; both files are attempted.
absl::Status WritePlots(Trainer& trainer,
                        const std::vector<IterationMetrics>& history,
                        const std::string& dir);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_PLOTS_H_
