#include "client/cli/metrics_format.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace eprop::cli {

std::string JsonNumber(double v, int decimals) {
  if (!std::isfinite(v)) return "null";
  return decimals < 0 ? absl::StrFormat("%.6g", v)
                      : absl::StrFormat("%.*f", decimals, v);
}

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

RlMetrics ToRlMetrics(const BreakoutTrainingMetrics& m) {
  RlMetrics r;
  r.updates = m.updates;
  r.frames = m.frames;
  r.episodes = m.episodes;
  r.avg_return_last100 = m.avg_return_last100;
  r.frames_per_s = m.frames_per_s;
  r.elapsed_s = m.elapsed_s;
  r.loss = m.loss;
  r.entropy = m.entropy;
  r.rate_hz = m.rate_hz;
  return r;
}

RlMetrics RlMetricsFromProto(const v1::IterationMetrics& m, bool remote) {
  RlMetrics r;
  r.updates = m.iteration();
  r.frames = m.frames();
  r.episodes = m.episodes();
  r.avg_return_last100 = m.avg_return_last100();
  r.frames_per_s = m.frames_per_s();
  r.elapsed_s = m.wall_s();
  r.loss = m.loss();
  r.entropy = m.entropy_nats();
  r.rate_hz = m.rate_hz();
  r.connected_environments = remote ? m.connected_environments() : -1;
  return r;
}

std::string RlMetricsJsonFields(const RlMetrics& m) {
  std::string out = absl::StrFormat(
      "\"frames\":%d,\"episodes\":%d,\"avg_return_last100\":%s,"
      "\"frames_per_s\":%s,\"elapsed_s\":%s,\"loss\":%s,\"entropy\":%s,"
      "\"rate_hz\":%s,\"updates\":%d",
      m.frames, m.episodes, JsonNumber(m.avg_return_last100, 4),
      JsonNumber(m.frames_per_s, 1), JsonNumber(m.elapsed_s, 3),
      JsonNumber(m.loss, -1), JsonNumber(m.entropy, 4),
      JsonNumber(m.rate_hz, 2), m.updates);
  if (m.connected_environments >= 0) {
    absl::StrAppend(&out,
                    ",\"connected_environments\":", m.connected_environments);
  }
  return out;
}

std::string RlMetricsJson(const RlMetrics& m) {
  return absl::StrCat("{", RlMetricsJsonFields(m), "}");
}

std::string RlCsvColumns() {
  return "frames,episodes,avg_return_last100,frames_per_s,elapsed_s,loss,"
         "entropy,rate_hz,updates";
}

std::string RlCsvValues(const RlMetrics& m) {
  return absl::StrFormat("%d,%d,%.4f,%.1f,%.3f,%.6g,%.4f,%.2f,%d", m.frames,
                         m.episodes, m.avg_return_last100, m.frames_per_s,
                         m.elapsed_s, m.loss, m.entropy, m.rate_hz, m.updates);
}

std::string RlJobCsvHeader() {
  return absl::StrCat(RlCsvColumns(), ",connected_environments\n");
}

std::string RlJobCsvRow(const RlMetrics& m) {
  return absl::StrCat(RlCsvValues(m), ",",
                      m.connected_environments >= 0
                          ? absl::StrCat(m.connected_environments)
                          : "",
                      "\n");
}

std::string RlProgressLine(const RlMetrics& m, int64_t max_frames) {
  const std::string eta =
      m.frames_per_s > 0
          ? absl::StrFormat(
                "%6.1f",
                std::max<int64_t>(0, max_frames - m.frames) / m.frames_per_s)
          : absl::StrFormat("%6s", "-");
  const std::string envs =
      m.connected_environments >= 0
          ? absl::StrFormat("%3d envs  ", m.connected_environments)
          : "";
  return absl::StrFormat(
      "updates %6d  frames %9d/%d  episodes %6d  avg return %6.2f  loss "
      "%9.4g  entropy %5.3f  rate %5.1f Hz  %s%7.0f frames/s  ETA %s s",
      m.updates, m.frames, max_frames, m.episodes, m.avg_return_last100, m.loss,
      m.entropy, m.rate_hz, envs, m.frames_per_s, eta);
}

std::string RlMetricsTable(const std::vector<RlMetrics>& history, bool remote) {
  std::string out = absl::StrFormat(
      "%8s  %11s  %8s  %10s  %8s  %s%10s  %7s  %7s  %8s\n", "UPDATES", "FRAMES",
      "EPISODES", "AVG_RETURN", "FRAMES/S", remote ? "ENVS  " : "", "LOSS",
      "ENTROPY", "RATE_HZ", "WALL_S");
  for (const RlMetrics& m : history) {
    absl::StrAppendFormat(
        &out, "%8d  %11d  %8d  %10.3f  %8.0f  %s%10.4g  %7.3f  %7.2f  %8.1f\n",
        m.updates, m.frames, m.episodes, m.avg_return_last100, m.frames_per_s,
        remote ? absl::StrFormat("%4d  ", m.connected_environments) : "",
        m.loss, m.entropy, m.rate_hz, m.elapsed_s);
  }
  return out;
}

}  // namespace eprop::cli
