// Text forms of jobs for the job commands: tables for people, JSON lines
// for programs (one object per line, no trailing newline).
#ifndef EPROP_CLIENT_CLI_JOB_FORMAT_H_
#define EPROP_CLIENT_CLI_JOB_FORMAT_H_

#include <string>
#include <vector>

#include "eprop/v1/jobs.pb.h"

namespace eprop::cli {

// Reinforcement-learning jobs (server::IsReinforcementTask) report
// RlMetrics (updates, frames, episodes, average return, ...) where
// supervised jobs report validations; every function below shows each kind
// its own way.

// True for an RL job whose environments are remote processes (they report
// connected_environments).
bool IsRemoteJob(const v1::JobSpec& spec);

// An observation spec as `eprop submit --observation` takes it:
// "spikes:10x10x4", "features:8", "rgb:84x84x3".
std::string ObservationText(const v1::ObservationSpec& spec);

// The spec's network, batch, schedule and optimizer in one line ("seed 1,
// 100 LIF + 0 ALIF, batch 1, ..."); RL: network, environments, observation,
// actions, actor-critic settings, optimizer and frame budget.
std::string SpecSummary(const v1::JobSpec& spec);

// The task metric of the job's latest validation: "error 6.2 %",
// "nmse 0.0831", "return 1.74" (RL: average of the last 100 episodes), or
// "-" before the first validation.
std::string LatestMetricText(const v1::Job& job);

// `eprop list`: a header (JOB STATE TASK ALGORITHM ITERATIONS ERROR/NMSE
// NAME; METRIC instead of ERROR/NMSE when an RL job is listed) and one
// aligned row per job, each line ending in '\n'. ITERATIONS of RL jobs
// counts weight updates.
std::string JobTable(const std::vector<v1::Job>& jobs);
// `eprop list --output json`: job_id, state, task, algorithm, iterations,
// display_name and, after the first validation, error or nmse (RL: frames
// and avg_return_last100).
std::string JobListJson(const v1::Job& job);

// `eprop status`: one "key  value" line per detail.
std::string JobDetails(const v1::Job& job);
// `eprop status --output json`: job_id, state, display_name, task,
// algorithm, iterations, max_iterations (RL: source and max_frames
// instead), reached_stop_criterion, failure_reason, checkpoint_iteration,
// resume_count, the three times (unix ms) and latest_metrics (the metrics
// JSON object, if any: MetricsJson, RL: RlMetricsJson).
std::string JobStatusJson(const v1::Job& job);

// The line that ends `--wait`, `--follow` and `watch`: "job-000001
// succeeded after 60 iterations in 2.1 s: normalised MSE 0.41"; RL:
// "job-000002 succeeded after 1234 updates and 400000 frames in 30.2 s:
// average return of the last 100 episodes 1.74 (1500 episodes)" or "...:
// no episode finished" (failed: the reason instead of the metric).
std::string FinalSummary(const v1::Job& job);
// Its JSON form: job_id, state, iterations, error or nmse (RL: frames,
// episodes, avg_return_last100) after the first validation,
// reached_stop_criterion, failure_reason (failed jobs).
std::string FinalSummaryJson(const v1::Job& job);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_JOB_FORMAT_H_
