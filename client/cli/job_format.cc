#include "client/cli/job_format.h"

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/cli/metrics_format.h"
#include "server/job_spec.h"

namespace eprop::cli {
namespace {

using server::AlgorithmNameOf;
using server::FromProto;
using server::IsReinforcementTask;
using server::JobStateName;
using server::TaskName;

bool IsRlJob(const v1::Job& job) {
  return IsReinforcementTask(job.spec().task());
}

// The latest report of an RL job (all zero before the first).
RlMetrics LatestRl(const v1::Job& job) {
  return RlMetricsFromProto(job.latest_metrics(), IsRemoteJob(job.spec()));
}

// Local time of a unix time in ms; "-" for 0 (not yet).
std::string TimeText(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(unix_ms),
                          absl::LocalTimeZone());
}

// Seconds from start to end of the job, or a negative value when unknown.
double RunSeconds(const v1::Job& job) {
  if (job.start_time_unix_ms() == 0 || job.end_time_unix_ms() == 0) return -1;
  return (job.end_time_unix_ms() - job.start_time_unix_ms()) / 1000.0;
}

// ", \"error\":x" or ", \"nmse\":x" of the latest validation, if any (RL:
// frames, episodes and avg_return_last100).
std::string LatestMetricJson(const v1::Job& job) {
  if (!job.has_latest_metrics()) return "";
  if (IsRlJob(job)) {
    const RlMetrics m = LatestRl(job);
    return absl::StrCat(
        ",\"frames\":", m.frames, ",\"episodes\":", m.episodes,
        ",\"avg_return_last100\":", JsonNumber(m.avg_return_last100, 4));
  }
  const IterationMetrics m = FromProto(job.latest_metrics());
  return absl::StrFormat(",\"%s\":%.6g", TaskMetricKey(m), TaskMetric(m));
}

std::string RlMetricsText(const RlMetrics& m) {
  std::string text = absl::StrFormat(
      "update %d: %d frames, %d episodes, average return %.2f (last 100), "
      "%.0f frames/s, loss %.4g, entropy %.3f, rate %.1f Hz, %.1f s of "
      "training",
      m.updates, m.frames, m.episodes, m.avg_return_last100, m.frames_per_s,
      m.loss, m.entropy, m.rate_hz, m.elapsed_s);
  if (m.connected_environments >= 0) {
    absl::StrAppend(&text, ", ", m.connected_environments,
                    " environment(s) connected");
  }
  return text;
}

std::string MetricsText(const v1::Job& job) {
  if (IsRlJob(job)) return RlMetricsText(LatestRl(job));
  const IterationMetrics m = FromProto(job.latest_metrics());
  return absl::StrFormat(
      "iteration %d: loss %.4f, %s %.4g, rate %.1f Hz, %.2f ms/iter, %.1f s "
      "of training",
      m.iteration, m.loss, TaskMetricKey(m), TaskMetric(m), m.rate_hz,
      m.ms_per_iter, m.wall_s);
}

std::string StateText(const v1::Job& job) {
  std::string text = JobStateName(job.state());
  if (job.reached_stop_criterion()) text += " (stop criterion reached)";
  return text;
}

std::string RlSpecSummary(const v1::JobSpec& spec) {
  const v1::ReinforcementSpec& rl = spec.reinforcement();
  std::string text =
      absl::StrFormat("seed %d, %d LIF + %d ALIF, ", spec.seed(),
                      spec.network().n_lif(), spec.network().n_alif());
  if (IsRemoteJob(spec)) {
    absl::StrAppendFormat(&text,
                          "up to %d remote environments (queueing delay <= "
                          "%d ms)",
                          rl.num_envs(), rl.max_queueing_delay_ms());
  } else {
    absl::StrAppendFormat(&text, "%d built-in games", rl.num_envs());
  }
  absl::StrAppendFormat(
      &text,
      ", observation %s, %d actions, %d steps per action, unroll %d "
      "decisions, discount %g, entropy cost %g, value cost %g",
      ObservationText(rl.observation_spec()), rl.num_actions(),
      rl.steps_per_action(), rl.unroll_decisions(), rl.discount(),
      rl.entropy_cost(), rl.value_cost());
  const v1::OptimizerSpec& o = spec.optimizer();
  absl::StrAppendFormat(
      &text,
      ", %s lr %g, up to %d frames, report and checkpoint every %d frames, "
      "%d thread(s)",
      o.kind() == v1::OPTIMIZER_KIND_SGD ? "sgd" : "adam", o.learning_rate(),
      rl.max_frames(), rl.report_every_frames(), spec.threads());
  return text;
}

}  // namespace

bool IsRemoteJob(const v1::JobSpec& spec) {
  if (!IsReinforcementTask(spec.task())) return false;
  const v1::EnvironmentSource source = spec.reinforcement().source();
  return source == v1::ENVIRONMENT_SOURCE_REMOTE ||
         (source == v1::ENVIRONMENT_SOURCE_UNSPECIFIED &&
          spec.task() == v1::TASK_REMOTE_ENVIRONMENT);
}

std::string ObservationText(const v1::ObservationSpec& spec) {
  const char* kind = "unspecified";
  switch (spec.kind()) {
    case v1::OBSERVATION_KIND_FEATURES:
      kind = "features";
      break;
    case v1::OBSERVATION_KIND_SPIKES:
      kind = "spikes";
      break;
    case v1::OBSERVATION_KIND_RGB_FRAME:
      kind = "rgb";
      break;
    default:
      break;
  }
  return absl::StrCat(kind, ":", absl::StrJoin(spec.shape(), "x"));
}

std::string SpecSummary(const v1::JobSpec& spec) {
  if (IsReinforcementTask(spec.task())) return RlSpecSummary(spec);
  const v1::ScheduleSpec& s = spec.schedule();
  std::string text = absl::StrFormat(
      "seed %d, %d LIF + %d ALIF, batch %d, up to %d iterations, validation "
      "every %d",
      spec.seed(), spec.network().n_lif(), spec.network().n_alif(),
      s.batch_size(), s.max_iterations(), s.validate_every_iterations());
  const v1::OptimizerSpec& o = spec.optimizer();
  absl::StrAppendFormat(&text, ", %s lr %g",
                        o.kind() == v1::OPTIMIZER_KIND_SGD ? "sgd" : "adam",
                        o.learning_rate());
  if (s.lr_decay_every_iterations() > 0) {
    absl::StrAppendFormat(&text, " x %g every %d", s.lr_decay_factor(),
                          s.lr_decay_every_iterations());
  }
  if (spec.has_stop_criterion() && spec.stop_criterion() > 0) {
    absl::StrAppendFormat(&text, ", stop below %g", spec.stop_criterion());
  }
  absl::StrAppendFormat(&text, ", checkpoint every %d, %d thread(s)",
                        spec.checkpoint_every_iterations(), spec.threads());
  return text;
}

std::string LatestMetricText(const v1::Job& job) {
  if (!job.has_latest_metrics()) return "-";
  if (IsRlJob(job)) {
    return absl::StrFormat("return %.2f", LatestRl(job).avg_return_last100);
  }
  const IterationMetrics m = FromProto(job.latest_metrics());
  return IsClassification(m) ? absl::StrFormat("error %.1f %%", 100 * m.error)
                             : absl::StrFormat("nmse %.4g", m.nmse);
}

std::string JobTable(const std::vector<v1::Job>& jobs) {
  using Row = std::array<std::string, 7>;
  const bool any_rl = std::any_of(jobs.begin(), jobs.end(), IsRlJob);
  std::vector<Row> rows = {{"JOB", "STATE", "TASK", "ALGORITHM", "ITERATIONS",
                            any_rl ? "METRIC" : "ERROR/NMSE", "NAME"}};
  for (const v1::Job& job : jobs) {
    rows.push_back({job.job_id(), JobStateName(job.state()),
                    TaskName(job.spec().task()),
                    AlgorithmNameOf(job.spec().algorithm()),
                    absl::StrCat(job.iterations_completed()),
                    LatestMetricText(job), job.spec().display_name()});
  }
  std::array<size_t, 7> width{};
  for (const Row& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (size_t c = 0; c + 1 < row.size(); ++c) {
      absl::StrAppend(&line, row[c],
                      std::string(width[c] - row[c].size() + 2, ' '));
    }
    absl::StrAppend(&line, row.back());
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

std::string JobListJson(const v1::Job& job) {
  return absl::StrCat(
      "{\"job_id\":", JsonQuote(job.job_id()),
      ",\"state\":", JsonQuote(JobStateName(job.state())),
      ",\"task\":", JsonQuote(TaskName(job.spec().task())),
      ",\"algorithm\":", JsonQuote(AlgorithmNameOf(job.spec().algorithm())),
      ",\"iterations\":", job.iterations_completed(),
      ",\"display_name\":", JsonQuote(job.spec().display_name()),
      LatestMetricJson(job), "}");
}

std::string JobDetails(const v1::Job& job) {
  std::vector<std::pair<std::string, std::string>> lines = {
      {"job", job.job_id()}};
  if (!job.spec().display_name().empty()) {
    lines.push_back({"name", job.spec().display_name()});
  }
  lines.push_back({"state", StateText(job)});
  if (job.state() == v1::JOB_STATE_FAILED) {
    lines.push_back({"failure", job.failure_reason()});
  }
  lines.push_back({"task", TaskName(job.spec().task())});
  lines.push_back({"algorithm", AlgorithmNameOf(job.spec().algorithm())});
  lines.push_back({"spec", SpecSummary(job.spec())});
  const bool rl = IsRlJob(job);
  if (rl) {
    lines.push_back(
        {"frames", absl::StrCat(LatestRl(job).frames, " of ",
                                job.spec().reinforcement().max_frames())});
    lines.push_back({"updates", absl::StrCat(job.iterations_completed())});
  } else {
    lines.push_back(
        {"iterations", absl::StrCat(job.iterations_completed(), " of ",
                                    job.spec().schedule().max_iterations())});
  }
  lines.push_back(
      {"metrics", job.has_latest_metrics() ? MetricsText(job) : "-"});
  lines.push_back(
      {"checkpoint", job.checkpoint_iteration() < 0
                         ? "none"
                         : absl::StrCat(rl ? "update " : "iteration ",
                                        job.checkpoint_iteration())});
  lines.push_back({"created", TimeText(job.create_time_unix_ms())});
  lines.push_back({"started", TimeText(job.start_time_unix_ms())});
  std::string finished = TimeText(job.end_time_unix_ms());
  if (RunSeconds(job) >= 0) {
    absl::StrAppendFormat(&finished, " (ran %.1f s)", RunSeconds(job));
  }
  lines.push_back({"finished", finished});
  if (job.resume_count() > 0) {
    lines.push_back({"resumed", absl::StrCat(job.resume_count(), " time(s)")});
  }
  std::string out;
  for (const auto& [key, value] : lines) {
    absl::StrAppendFormat(&out, "%-11s %s\n", key, value);
  }
  return out;
}

std::string JobStatusJson(const v1::Job& job) {
  std::string out = absl::StrCat(
      "{\"job_id\":", JsonQuote(job.job_id()),
      ",\"state\":", JsonQuote(JobStateName(job.state())),
      ",\"display_name\":", JsonQuote(job.spec().display_name()),
      ",\"task\":", JsonQuote(TaskName(job.spec().task())),
      ",\"algorithm\":", JsonQuote(AlgorithmNameOf(job.spec().algorithm())),
      ",\"iterations\":", job.iterations_completed());
  if (IsRlJob(job)) {
    absl::StrAppend(
        &out,
        ",\"source\":", IsRemoteJob(job.spec()) ? "\"remote\"" : "\"builtin\"",
        ",\"max_frames\":", job.spec().reinforcement().max_frames());
  } else {
    absl::StrAppend(
        &out, ",\"max_iterations\":", job.spec().schedule().max_iterations());
  }
  absl::StrAppend(&out, ",\"reached_stop_criterion\":",
                  job.reached_stop_criterion() ? "true" : "false",
                  ",\"failure_reason\":", JsonQuote(job.failure_reason()),
                  ",\"checkpoint_iteration\":", job.checkpoint_iteration(),
                  ",\"resume_count\":", job.resume_count(),
                  ",\"create_time_unix_ms\":", job.create_time_unix_ms(),
                  ",\"start_time_unix_ms\":", job.start_time_unix_ms(),
                  ",\"end_time_unix_ms\":", job.end_time_unix_ms());
  if (job.has_latest_metrics()) {
    absl::StrAppend(&out, ",\"latest_metrics\":",
                    IsRlJob(job)
                        ? RlMetricsJson(LatestRl(job))
                        : MetricsJson(FromProto(job.latest_metrics())));
  }
  return out + "}";
}

std::string FinalSummary(const v1::Job& job) {
  const bool rl = IsRlJob(job);
  std::string out =
      absl::StrCat(job.job_id(), " ", JobStateName(job.state()), " after ",
                   job.iterations_completed(), rl ? " updates" : " iterations");
  if (rl && job.has_latest_metrics()) {
    absl::StrAppend(&out, " and ", LatestRl(job).frames, " frames");
  }
  if (RunSeconds(job) >= 0) {
    absl::StrAppendFormat(&out, " in %.1f s", RunSeconds(job));
  }
  if (job.state() == v1::JOB_STATE_FAILED) {
    return absl::StrCat(out, ": ", job.failure_reason());
  }
  if (rl && job.has_latest_metrics()) {
    const RlMetrics m = LatestRl(job);
    if (m.episodes == 0) {
      out += ": no episode finished";
    } else {
      absl::StrAppendFormat(&out,
                            ": average return of the last 100 episodes %.2f "
                            "(%d episodes)",
                            m.avg_return_last100, m.episodes);
    }
  } else if (job.has_latest_metrics()) {
    const IterationMetrics m = FromProto(job.latest_metrics());
    absl::StrAppendFormat(
        &out, ": %s %.4g",
        IsClassification(m) ? "validation error" : "normalised MSE",
        TaskMetric(m));
  }
  if (job.reached_stop_criterion()) out += " (stop criterion reached)";
  return out;
}

std::string FinalSummaryJson(const v1::Job& job) {
  std::string out =
      absl::StrCat("{\"job_id\":", JsonQuote(job.job_id()),
                   ",\"state\":", JsonQuote(JobStateName(job.state())),
                   ",\"iterations\":", job.iterations_completed(),
                   LatestMetricJson(job), ",\"reached_stop_criterion\":",
                   job.reached_stop_criterion() ? "true" : "false");
  if (job.state() == v1::JOB_STATE_FAILED) {
    absl::StrAppend(&out,
                    ",\"failure_reason\":", JsonQuote(job.failure_reason()));
  }
  return out + "}";
}

}  // namespace eprop::cli
