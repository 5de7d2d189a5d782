// Text forms of training metrics shared by `eprop train --local` and the job
// commands: JSON lines, CSV rows (metrics.csv) and the live progress line,
// of supervised validations (IterationMetrics) and of the reports of
// reward-based e-prop runs (RlMetrics).
#ifndef EPROP_CLIENT_CLI_METRICS_FORMAT_H_
#define EPROP_CLIENT_CLI_METRICS_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/rl/breakout_training.h"
#include "core/train/metrics.h"
#include "core/util/json.h"
#include "eprop/v1/jobs.pb.h"

namespace eprop::cli {

// A JSON number with `decimals` decimals (-1: 6 significant digits); null
// for NaN and infinities, which JSON cannot express.
std::string JsonNumber(double v, int decimals);

// True for a classification validation (error is set; nmse is NaN).
bool IsClassification(const IterationMetrics& m);

// The task metric of a validation: error (classification) or nmse, and its
// JSON key ("error" or "nmse").
double TaskMetric(const IterationMetrics& m);
const char* TaskMetricKey(const IterationMetrics& m);

// One JSON object without a trailing newline: iteration, loss, reg_loss,
// error or nmse, rate_hz, rate_<POP>_hz {mean,min,max}, ms_per_iter, wall_s.
std::string MetricsJson(const IterationMetrics& m);

// The header line of metrics.csv and one row (both end with '\n').
std::string CsvHeader();
std::string CsvRow(const IterationMetrics& m);

// "iteration  i/max  loss ...  error|nmse ...  rate ... Hz  ... ms/iter
// ETA <= ... s", without a newline.
std::string ProgressLine(const IterationMetrics& m, int64_t max_iterations);

// One report of a reinforcement-learning run: `eprop train --local --task
// breakout` (BreakoutTrainingMetrics) or an RL job (v1::IterationMetrics,
// whose `iteration` counts weight updates).
struct RlMetrics {
  int64_t updates = 0;   // weight updates so far
  int64_t frames = 0;    // environment steps so far, all environments
  int64_t episodes = 0;  // finished episodes so far
  // Mean return of the last min(100, episodes) episodes (0 before the
  // first).
  double avg_return_last100 = 0;
  double frames_per_s = 0;
  double elapsed_s = 0;  // training time
  double loss = 0;       // of the last update
  double entropy = 0;    // mean policy entropy of the last update [nats]
  double rate_hz = 0;    // mean firing rate of the last update
  // Remote environments connected at the report; -1 for built-in games,
  // which leaves it out of every text form.
  int connected_environments = -1;
};

RlMetrics ToRlMetrics(const BreakoutTrainingMetrics& m);
// `remote`: the job's environments are remote (connected_environments is
// then taken from `m`).
RlMetrics RlMetricsFromProto(const v1::IterationMetrics& m, bool remote);

// The JSON members of a report, without braces: frames, episodes,
// avg_return_last100, frames_per_s, elapsed_s, loss, entropy, rate_hz,
// updates and, for remote environments, connected_environments (NaN and
// infinities as null). `eprop train --local` wraps them with task, final
// (and cancelled).
std::string RlMetricsJsonFields(const RlMetrics& m);
// Those members as one JSON object (the metrics lines of RL jobs).
std::string RlMetricsJson(const RlMetrics& m);

// The CSV columns of every RL metrics.csv, "frames,...,updates", and the
// values of one report in them (neither ends in ',' or '\n').
std::string RlCsvColumns();
std::string RlCsvValues(const RlMetrics& m);
// `eprop metrics --format csv` of an RL job: those columns and
// connected_environments (empty for built-in games); both end with '\n'.
std::string RlJobCsvHeader();
std::string RlJobCsvRow(const RlMetrics& m);

// "updates u  frames f/max  episodes e  avg return r  loss l  entropy h
// rate z Hz  [n envs  ]x frames/s  ETA t s", without a newline; the ETA
// is the frames left at the current frames/s ("-" before any).
std::string RlProgressLine(const RlMetrics& m, int64_t max_frames);

// `eprop metrics` of an RL job: a header and one aligned row per report
// (the ENVS column with `remote`), each line ending in '\n'.
std::string RlMetricsTable(const std::vector<RlMetrics>& history, bool remote);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_METRICS_FORMAT_H_
