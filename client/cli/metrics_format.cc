#include "client/cli/metrics_format.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace eprop::cli {

bool IsClassification(const IterationMetrics& m) {
  return !std::isnan(m.error);
}

double TaskMetric(const IterationMetrics& m) {
  return IsClassification(m) ? m.error : m.nmse;
}

const char* TaskMetricKey(const IterationMetrics& m) {
  return IsClassification(m) ? "error" : "nmse";
}

std::string MetricsJson(const IterationMetrics& m) {
  std::string out =
      absl::StrFormat("{\"iteration\":%d,\"loss\":%.6g,\"reg_loss\":%.6g,",
                      m.iteration, m.loss, m.reg_loss);
  absl::StrAppendFormat(&out, "\"%s\":%.6g,", TaskMetricKey(m), TaskMetric(m));
  absl::StrAppendFormat(&out, "\"rate_hz\":%.4g,", m.rate_hz);
  for (const PopulationRates& p : m.populations) {
    absl::StrAppendFormat(&out,
                          "\"rate_%s_hz\":{\"mean\":%.4g,\"min\":%.4g,"
                          "\"max\":%.4g},",
                          p.name, p.mean_hz, p.min_hz, p.max_hz);
  }
  absl::StrAppendFormat(&out, "\"ms_per_iter\":%.4g,\"wall_s\":%.4g}",
                        m.ms_per_iter, m.wall_s);
  return out;
}

std::string CsvHeader() {
  return "iteration,loss,reg_loss,error,nmse,rate_hz,rate_lif_mean_hz,"
         "rate_lif_min_hz,rate_lif_max_hz,rate_alif_mean_hz,rate_alif_min_hz,"
         "rate_alif_max_hz,ms_per_iter,wall_s\n";
}

std::string CsvRow(const IterationMetrics& m) {
  std::string out =
      absl::StrFormat("%d,%.6g,%.6g,%.6g,%.6g,%.4g", m.iteration, m.loss,
                      m.reg_loss, m.error, m.nmse, m.rate_hz);
  for (const char* name : {"LIF", "ALIF"}) {
    bool found = false;
    for (const PopulationRates& p : m.populations) {
      if (p.name != name) continue;
      absl::StrAppendFormat(&out, ",%.4g,%.4g,%.4g", p.mean_hz, p.min_hz,
                            p.max_hz);
      found = true;
    }
    if (!found) out += ",,,";
  }
  absl::StrAppendFormat(&out, ",%.4g,%.4g\n", m.ms_per_iter, m.wall_s);
  return out;
}

std::string ProgressLine(const IterationMetrics& m, int64_t max_iterations) {
  const double eta_s = m.ms_per_iter *
                       std::max<int64_t>(0, max_iterations - m.iteration) /
                       1000.0;
  const std::string metric =
      IsClassification(m) ? absl::StrFormat("error %5.1f %%", 100 * m.error)
                          : absl::StrFormat("nmse %6.3f", m.nmse);
  return absl::StrFormat(
      "iteration %6d/%d  loss %8.4f  %s  rate %5.1f Hz  %7.2f ms/iter  "
      "ETA <= %6.1f s",
      m.iteration, max_iterations, m.loss, metric, m.rate_hz, m.ms_per_iter,
      eta_s);
}
}  // namespace eprop::cli
