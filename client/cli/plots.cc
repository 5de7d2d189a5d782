#include "client/cli/plots.h"

#include "absl/strings/str_cat.h"
#include "core/plot/figures.h"
#include "core/train/trial.h"
#include "core/util/file_io.h"
#include "core/util/random.h"

namespace eprop::cli {

std::string LearningCurvesPath(const std::string& dir) {
  return dir + "/learning_curves.svg";
}

std::string TrialPath(const std::string& dir) { return dir + "/trial.svg"; }

absl::Status WritePlots(Trainer& trainer,
                        const std::vector<IterationMetrics>& history,
                        const std::string& dir) {
  const std::string title = absl::StrCat(
      trainer.task().name(), ", ", AlgorithmName(trainer.config().algorithm),
      ", seed ", trainer.config().seed);
  absl::Status curves = WriteFileAtomically(
      LearningCurvesPath(dir), plot::LearningCurves(history, title));
  Rng rng(trainer.config().seed ^ 0x9e3779b97f4a7c15ULL);
  absl::Status trial = WriteFileAtomically(
      TrialPath(dir),
      plot::TrialFigure(RecordTrial(trainer, trainer.SampleBatch(rng))));
  return curves.ok() ? trial : curves;
}

}  // namespace eprop::cli
