// Text forms of training metrics shared by `eprop train --local` and the job
// commands: JSON lines, CSV rows (metrics.csv) and the live progress line.
#ifndef EPROP_CLIENT_CLI_METRICS_FORMAT_H_
#define EPROP_CLIENT_CLI_METRICS_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/train/metrics.h"
#include "core/util/json.h"

namespace eprop::cli {

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

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_METRICS_FORMAT_H_
