#include "client/cli/args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "client/cli/job_format.h"
#include "client/cli/metrics_format.h"
#include "client/cli/submit_command.h"

namespace eprop::cli {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"json", true, "json output", ""},
    {"seed", false, "seed", "7"},
    {"rate", false, "rate", "1.5"},
};

TEST(ArgsTest, ParsesAllSpellingsAndDefaults) {
  auto args =
      Args::Parse({"--json", "--seed=3", "pos", "--rate", "2.5"}, kSpecs);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_TRUE(args->Has("json"));
  EXPECT_EQ(*args->GetInt("seed", 0, 10), 3);
  EXPECT_EQ(*args->GetDouble("rate", 0, 10), 2.5);
  EXPECT_EQ(args->positional(), std::vector<std::string>{"pos"});
  auto defaults = Args::Parse({}, kSpecs);
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->Has("json"));
  EXPECT_EQ(*defaults->GetInt("seed", 0, 10), 7);
}

TEST(ArgsTest, RejectsUnknownFlagsAndMissingValues) {
  EXPECT_FALSE(Args::Parse({"--sed=3"}, kSpecs).ok());
  EXPECT_FALSE(Args::Parse({"--seed"}, kSpecs).ok());
  EXPECT_FALSE(Args::Parse({"--json=maybe"}, kSpecs).ok());
}

TEST(ArgsTest, RangeAndFormatErrorsNameTheFlag) {
  auto args = Args::Parse({"--seed=11", "--rate=nan"}, kSpecs);
  ASSERT_TRUE(args.ok());
  const absl::Status seed = args->GetInt("seed", 0, 10).status();
  EXPECT_EQ(seed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(seed.message().find("--seed"), std::string::npos);
  EXPECT_FALSE(args->GetDouble("rate", 0, 10).ok());
  auto text = Args::Parse({"--seed=abc"}, kSpecs);
  ASSERT_TRUE(text.ok());
  EXPECT_FALSE(text->GetInt("seed", 0, 10).ok());
}

// `eprop submit`: flags to JobSpec (client/cli/submit_command.h).
namespace submit {

absl::StatusOr<v1::JobSpec> Spec(const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = Args::Parse(argv, SubmitFlags());
  if (!args.ok()) return args.status();
  return SpecFromArgs(*args);
}

// The message of a spec that must be refused as INVALID_ARGUMENT (a usage
// error of `eprop submit`).
std::string Refusal(const std::vector<std::string>& argv) {
  const absl::StatusOr<v1::JobSpec> spec = Spec(argv);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument)
      << testing::PrintToString(argv);
  return std::string(spec.status().message());
}

TEST(SubmitSpecTest, RlFlagsSetTheReinforcementSpec) {
  const absl::StatusOr<v1::JobSpec> spec = Spec({"--task",
                                                 "remote_environment",
                                                 "--source",
                                                 "remote",
                                                 "--frames",
                                                 "200000",
                                                 "--envs",
                                                 "8",
                                                 "--max-queueing-delay-ms",
                                                 "5",
                                                 "--report-every-frames",
                                                 "50000",
                                                 "--observation",
                                                 "spikes:10x10x4",
                                                 "--num-actions",
                                                 "3",
                                                 "--steps-per-action",
                                                 "2",
                                                 "--unroll",
                                                 "10",
                                                 "--entropy-cost",
                                                 "0.02",
                                                 "--discount",
                                                 "0.95",
                                                 "--value-cost",
                                                 "0.4",
                                                 "--seed",
                                                 "3",
                                                 "--n-lif",
                                                 "50",
                                                 "--learning-rate",
                                                 "0.002",
                                                 "--algorithm",
                                                 "eprop_random",
                                                 "--name",
                                                 "pong"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->task(), v1::TASK_REMOTE_ENVIRONMENT);
  const v1::ReinforcementSpec& rl = spec->reinforcement();
  EXPECT_EQ(rl.source(), v1::ENVIRONMENT_SOURCE_REMOTE);
  EXPECT_EQ(rl.max_frames(), 200000);
  EXPECT_EQ(rl.num_envs(), 8);
  EXPECT_EQ(rl.max_queueing_delay_ms(), 5);
  EXPECT_EQ(rl.report_every_frames(), 50000);
  EXPECT_EQ(rl.observation_spec().kind(), v1::OBSERVATION_KIND_SPIKES);
  EXPECT_THAT(rl.observation_spec().shape(), testing::ElementsAre(10, 10, 4));
  EXPECT_EQ(rl.num_actions(), 3);
  EXPECT_EQ(rl.steps_per_action(), 2);
  EXPECT_EQ(rl.unroll_decisions(), 10);
  EXPECT_DOUBLE_EQ(rl.entropy_cost(), 0.02);
  EXPECT_DOUBLE_EQ(rl.discount(), 0.95);
  EXPECT_DOUBLE_EQ(rl.value_cost(), 0.4);
  EXPECT_EQ(spec->seed(), 3u);
  EXPECT_EQ(spec->network().n_lif(), 50);
  EXPECT_FALSE(spec->network().has_n_alif());
  EXPECT_DOUBLE_EQ(spec->optimizer().learning_rate(), 0.002);
  EXPECT_EQ(spec->algorithm(), v1::ALGORITHM_EPROP_RANDOM);
  EXPECT_EQ(spec->display_name(), "pong");
  // Supervised fields stay unset, so the server accepts the RL spec.
  EXPECT_FALSE(spec->has_schedule());
  EXPECT_FALSE(spec->has_stop_criterion());
  EXPECT_FALSE(spec->has_checkpoint_every_iterations());
  EXPECT_FALSE(spec->has_online_eprop());
}

TEST(SubmitSpecTest, FrameFlagsSetThePreprocessing) {
  absl::StatusOr<v1::JobSpec> spec =
      Spec({"--task", "remote_environment", "--observation", "rgb:210x160x3",
            "--num-actions", "3", "--frame-skip", "2", "--noop-max", "0",
            "--sticky-actions", "0.1", "--screen-size", "42",
            "--no-reward-clipping"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  const v1::ReinforcementSpec& rl = spec->reinforcement();
  EXPECT_EQ(rl.frame_skip(), 2);
  EXPECT_EQ(rl.noop_max(), 0);
  EXPECT_TRUE(rl.has_noop_max());
  EXPECT_DOUBLE_EQ(rl.sticky_action_probability(), 0.1);
  EXPECT_EQ(rl.screen_size(), 42);
  EXPECT_TRUE(rl.has_clip_rewards());
  EXPECT_FALSE(rl.clip_rewards());
  spec = Spec({"--task", "remote_environment", "--observation", "rgb:210x160x3",
               "--num-actions", "3"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->reinforcement().has_clip_rewards());
  EXPECT_FALSE(spec->reinforcement().has_frame_skip());
}

TEST(SubmitSpecTest, UnsetRlFlagsLeaveTheServerDefaults) {
  const absl::StatusOr<v1::JobSpec> spec =
      Spec({"--task", "breakout", "--frames", "400000"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->task(), v1::TASK_BREAKOUT);
  const v1::ReinforcementSpec& rl = spec->reinforcement();
  EXPECT_EQ(rl.max_frames(), 400000);
  EXPECT_EQ(rl.source(), v1::ENVIRONMENT_SOURCE_UNSPECIFIED);
  EXPECT_FALSE(rl.has_observation_spec());
  EXPECT_FALSE(rl.has_num_envs());
  EXPECT_FALSE(rl.has_num_actions());
  EXPECT_FALSE(rl.has_discount());
  EXPECT_FALSE(spec->has_schedule());
  const absl::StatusOr<v1::JobSpec> builtin =
      Spec({"--task=breakout", "--source=builtin"});
  ASSERT_TRUE(builtin.ok()) << builtin.status();
  EXPECT_EQ(builtin->reinforcement().source(), v1::ENVIRONMENT_SOURCE_BUILTIN);
  const absl::StatusOr<v1::JobSpec> bare = Spec({"--task=breakout"});
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_FALSE(bare->has_reinforcement());
}

TEST(SubmitSpecTest, SupervisedFlagsStillSetTheSchedule) {
  const absl::StatusOr<v1::JobSpec> spec =
      Spec({"--task", "pattern_generation", "--max-iterations", "60", "--batch",
            "4", "--validate-every", "5", "--checkpoint-every", "20",
            "--stop-criterion", "0", "--online-eprop"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->task(), v1::TASK_PATTERN_GENERATION);
  EXPECT_EQ(spec->schedule().max_iterations(), 60);
  EXPECT_EQ(spec->schedule().batch_size(), 4);
  EXPECT_EQ(spec->schedule().validate_every_iterations(), 5);
  EXPECT_EQ(spec->checkpoint_every_iterations(), 20);
  EXPECT_TRUE(spec->has_stop_criterion());
  EXPECT_TRUE(spec->online_eprop());
  EXPECT_FALSE(spec->has_reinforcement());
}

TEST(SubmitSpecTest, TaskIsRequiredAndTheMessageListsEveryTask) {
  const std::string message = Refusal({"--frames", "1000"});
  EXPECT_THAT(message, testing::HasSubstr("--task is required"));
  for (const char* task : {"evidence_accumulation", "pattern_generation",
                           "breakout", "remote_environment"}) {
    EXPECT_THAT(message, testing::HasSubstr(task));
  }
  EXPECT_THAT(Refusal({"--task", "atari"}),
              testing::HasSubstr("remote_environment"));
}

TEST(SubmitSpecTest, SupervisedFlagsWithAnRlTaskNameTheFlag) {
  const std::vector<std::vector<std::string>> cases = {
      {"--max-iterations", "10"},  {"--batch", "4"},
      {"--validate-every", "5"},   {"--stop-criterion", "0.1"},
      {"--lr-decay-every", "10"},  {"--lr-decay", "0.5"},
      {"--checkpoint-every", "5"}, {"--online-eprop"},
      {"--plots-dir", "plots"}};
  for (const std::string task : {"breakout", "remote_environment"}) {
    for (std::vector<std::string> argv : cases) {
      const std::string flag = argv[0];
      argv.insert(argv.begin(), {"--task", task, "--wait"});
      const std::string message = Refusal(argv);
      EXPECT_THAT(message, testing::StartsWith(flag + " applies only to the "
                                                      "supervised tasks"));
      EXPECT_THAT(message, testing::EndsWith("not to " + task));
    }
  }
}

TEST(SubmitSpecTest, RlFlagsWithASupervisedTaskNameTheFlag) {
  const std::vector<std::vector<std::string>> cases = {
      {"--source", "builtin"},
      {"--frames", "1000"},
      {"--envs", "4"},
      {"--max-queueing-delay-ms", "5"},
      {"--report-every-frames", "100"},
      {"--observation", "features:8"},
      {"--num-actions", "3"},
      {"--steps-per-action", "2"},
      {"--unroll", "10"},
      {"--entropy-cost", "0.01"},
      {"--discount", "0.99"},
      {"--value-cost", "0.5"}};
  for (std::vector<std::string> argv : cases) {
    const std::string flag = argv[0];
    argv.insert(argv.begin(), {"--task", "evidence_accumulation"});
    const std::string message = Refusal(argv);
    EXPECT_THAT(message,
                testing::StartsWith(flag + " applies only to the "
                                           "reinforcement-learning tasks"));
    EXPECT_THAT(message, testing::EndsWith("not to evidence_accumulation"));
  }
}

TEST(SubmitSpecTest, TheTaskOfAJobFileDecidesWhichFlagsApply) {
  const std::string path = testing::TempDir() + "/breakout_spec.json";
  {
    std::ofstream file(path);
    file << R"({"task": "TASK_BREAKOUT", "reinforcement": {"numEnvs": 4}})";
  }
  const absl::StatusOr<v1::JobSpec> spec =
      Spec({"--job-file", path, "--frames", "1000"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->reinforcement().num_envs(), 4);
  EXPECT_EQ(spec->reinforcement().max_frames(), 1000);
  EXPECT_THAT(Refusal({"--job-file", path, "--batch", "8"}),
              testing::HasSubstr("--batch applies only to the supervised"));
}

TEST(SubmitSpecTest, BadRlValuesNameTheFlag) {
  EXPECT_THAT(Refusal({"--task", "breakout", "--source", "local"}),
              testing::HasSubstr("--source must be builtin or remote, got "
                                 "'local'"));
  EXPECT_THAT(Refusal({"--task", "breakout", "--frames", "many"}),
              testing::HasSubstr("--frames must be an integer"));
  EXPECT_THAT(Refusal({"--task", "breakout", "--envs", "99999999999"}),
              testing::HasSubstr("--envs must be an integer"));
  EXPECT_THAT(Refusal({"--task", "breakout", "--discount", "nan"}),
              testing::HasSubstr("--discount must be a finite number"));
  EXPECT_THAT(Refusal({"--task", "remote_environment", "--observation", "8"}),
              testing::HasSubstr("--observation must be KIND:SHAPE"));
}

TEST(ObservationFlagTest, ParsesKindAndShape) {
  const absl::StatusOr<v1::ObservationSpec> features =
      ParseObservationFlag("features:8");
  ASSERT_TRUE(features.ok()) << features.status();
  EXPECT_EQ(features->kind(), v1::OBSERVATION_KIND_FEATURES);
  EXPECT_THAT(features->shape(), testing::ElementsAre(8));
  const absl::StatusOr<v1::ObservationSpec> spikes =
      ParseObservationFlag("spikes:10x10x4");
  ASSERT_TRUE(spikes.ok()) << spikes.status();
  EXPECT_EQ(spikes->kind(), v1::OBSERVATION_KIND_SPIKES);
  EXPECT_THAT(spikes->shape(), testing::ElementsAre(10, 10, 4));
  const absl::StatusOr<v1::ObservationSpec> rgb =
      ParseObservationFlag("rgb:84x84x3");
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  EXPECT_EQ(rgb->kind(), v1::OBSERVATION_KIND_RGB_FRAME);
  EXPECT_THAT(rgb->shape(), testing::ElementsAre(84, 84, 3));
  // ObservationText is its inverse.
  for (const char* text : {"features:8", "spikes:10x10x4", "rgb:84x84x3"}) {
    EXPECT_EQ(ObservationText(*ParseObservationFlag(text)), text);
  }
}

TEST(ObservationFlagTest, RefusesMalformedValuesNamingTheFlag) {
  for (const char* text : {"",
                           "features",
                           "8",
                           ":8",
                           "pixels:8",
                           "Features:8",
                           "features:",
                           "features:0",
                           "features:-3",
                           "features:+3",
                           "features: 3",
                           "features:3x",
                           "features:x3",
                           "features:3xx4",
                           "features:3X4",
                           "features:3.5",
                           "features:99999999999",
                           "spikes:10x10x4:2",
                           "rgb:84x84",
                           "rgb:84x84x1",
                           "rgb:3x84x84x3"}) {
    const absl::StatusOr<v1::ObservationSpec> spec = ParseObservationFlag(text);
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument)
        << "'" << text << "'";
    EXPECT_THAT(std::string(spec.status().message()),
                testing::StartsWith("--observation"))
        << "'" << text << "'";
  }
  EXPECT_THAT(std::string(ParseObservationFlag("pixels:8").status().message()),
              testing::HasSubstr("kind must be features, spikes or rgb"));
  EXPECT_THAT(
      std::string(ParseObservationFlag("features:3x0").status().message()),
      testing::HasSubstr("shape must be integers >= 1 joined by x"));
  EXPECT_THAT(std::string(ParseObservationFlag("rgb:84x84").status().message()),
              testing::HasSubstr("HEIGHTxWIDTHx3"));
}

TEST(SubmitHelpTest, ListsEveryTaskAndTheRlFlags) {
  std::string names;
  for (const FlagSpec& flag : SubmitFlags()) names += " --" + flag.name;
  for (const char* flag :
       {"--source", "--frames", "--envs", "--max-queueing-delay-ms",
        "--report-every-frames", "--observation", "--num-actions",
        "--steps-per-action", "--unroll", "--entropy-cost", "--discount",
        "--value-cost"}) {
    EXPECT_THAT(names + " ", testing::HasSubstr(std::string(flag) + " "))
        << flag;
  }
  const std::string help = FlagHelp(SubmitFlags());
  EXPECT_THAT(help,
              testing::HasSubstr("evidence_accumulation, pattern_generation, "
                                 "breakout or remote_environment"));
}

}  // namespace submit

// Text forms of reinforcement-learning reports (client/cli/metrics_format.h)
// and of RL jobs (client/cli/job_format.h).
namespace rl_format {

RlMetrics Report(int connected_environments = -1) {
  RlMetrics m;
  m.updates = 1234;
  m.frames = 400000;
  m.episodes = 1500;
  m.avg_return_last100 = 1.74;
  m.frames_per_s = 12500;
  m.elapsed_s = 32;
  m.loss = 0.125;
  m.entropy = 0.9813;
  m.rate_hz = 12.34;
  m.connected_environments = connected_environments;
  return m;
}

v1::IterationMetrics ReportProto() {
  v1::IterationMetrics p;
  p.set_iteration(1234);
  p.set_frames(400000);
  p.set_episodes(1500);
  p.set_avg_return_last100(1.74);
  p.set_frames_per_s(12500);
  p.set_wall_s(32);
  p.set_loss(0.125);
  p.set_entropy_nats(0.9813);
  p.set_rate_hz(12.34);
  p.set_connected_environments(8);
  return p;
}

TEST(RlMetricsFormatTest, JsonLineKeys) {
  EXPECT_EQ(RlMetricsJson(Report()),
            "{\"frames\":400000,\"episodes\":1500,\"avg_return_last100\":"
            "1.7400,\"frames_per_s\":12500.0,\"elapsed_s\":32.000,\"loss\":"
            "0.125,\"entropy\":0.9813,\"rate_hz\":12.34,\"updates\":1234}");
  EXPECT_THAT(RlMetricsJson(Report(8)),
              testing::EndsWith(",\"updates\":1234,"
                                "\"connected_environments\":8}"));
  RlMetrics nan = Report();
  nan.loss = std::nan("");
  EXPECT_THAT(RlMetricsJson(nan), testing::HasSubstr("\"loss\":null,"));
}

TEST(RlMetricsFormatTest, LocalTrainingKeepsItsFormat) {
  // `eprop train --local --task breakout` writes these members between
  // "task" and "final", and these columns before "final".
  BreakoutTrainingMetrics b;
  b.frames = 400000;
  b.episodes = 1500;
  b.avg_return_last100 = 1.74;
  b.frames_per_s = 12500;
  b.elapsed_s = 32;
  b.updates = 1234;
  b.loss = 0.125;
  b.entropy = 0.9813;
  b.rate_hz = 12.34;
  EXPECT_EQ(RlMetricsJsonFields(ToRlMetrics(b)),
            "\"frames\":400000,\"episodes\":1500,\"avg_return_last100\":"
            "1.7400,\"frames_per_s\":12500.0,\"elapsed_s\":32.000,\"loss\":"
            "0.125,\"entropy\":0.9813,\"rate_hz\":12.34,\"updates\":1234");
  EXPECT_EQ(RlCsvColumns() + ",final",
            "frames,episodes,avg_return_last100,frames_per_s,elapsed_s,loss,"
            "entropy,rate_hz,updates,final");
  EXPECT_EQ(RlCsvValues(ToRlMetrics(b)),
            "400000,1500,1.7400,12500.0,32.000,0.125,0.9813,12.34,1234");
}

TEST(RlMetricsFormatTest, JobCsvHeaderAndRows) {
  EXPECT_EQ(RlJobCsvHeader(),
            "frames,episodes,avg_return_last100,frames_per_s,elapsed_s,loss,"
            "entropy,rate_hz,updates,connected_environments\n");
  EXPECT_EQ(RlJobCsvRow(Report()),
            "400000,1500,1.7400,12500.0,32.000,0.125,0.9813,12.34,1234,\n");
  EXPECT_EQ(RlJobCsvRow(Report(8)),
            "400000,1500,1.7400,12500.0,32.000,0.125,0.9813,12.34,1234,8\n");
}

TEST(RlMetricsFormatTest, ProgressLine) {
  // ETA: (5000000 - 400000) frames at 12500 frames/s.
  EXPECT_EQ(RlProgressLine(Report(), 5000000),
            "updates   1234  frames    400000/5000000  episodes   1500  avg "
            "return   1.74  loss     0.125  entropy 0.981  rate  12.3 Hz    "
            "12500 frames/s  ETA  368.0 s");
  EXPECT_THAT(RlProgressLine(Report(8), 5000000),
              testing::HasSubstr("rate  12.3 Hz    8 envs    12500 frames/s"));
  RlMetrics start = Report();
  start.frames_per_s = 0;
  EXPECT_THAT(RlProgressLine(start, 5000000),
              testing::EndsWith("0 frames/s  ETA      - s"));
  // A live line is rewritten in place: its width must not depend on the
  // values (within their usual ranges).
  RlMetrics small = Report();
  small.updates = 1;
  small.frames = 3200;
  small.episodes = 0;
  small.loss = -0.5;
  small.frames_per_s = 800;
  EXPECT_EQ(RlProgressLine(small, 5000000).size(),
            RlProgressLine(Report(), 5000000).size());
}

TEST(RlMetricsFormatTest, FromProto) {
  const RlMetrics remote = RlMetricsFromProto(ReportProto(), true);
  EXPECT_EQ(RlMetricsJson(remote), RlMetricsJson(Report(8)));
  const RlMetrics builtin = RlMetricsFromProto(ReportProto(), false);
  EXPECT_EQ(RlMetricsJson(builtin), RlMetricsJson(Report()));
}

TEST(RlMetricsFormatTest, Table) {
  const std::string table = RlMetricsTable({Report()}, false);
  EXPECT_EQ(
      table,
      " UPDATES       FRAMES  EPISODES  AVG_RETURN  FRAMES/S        LOSS  "
      "ENTROPY  RATE_HZ    WALL_S\n"
      "    1234       400000      1500       1.740     12500       0.125  "
      "  0.981    12.34      32.0\n");
  const std::string remote = RlMetricsTable({Report(8)}, true);
  EXPECT_THAT(remote, testing::HasSubstr("FRAMES/S  ENVS  "));
  EXPECT_THAT(remote, testing::HasSubstr("12500     8  "));
}

v1::Job RlJob(v1::Task task) {
  v1::Job job;
  job.set_job_id("job-000002");
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  job.set_iterations_completed(1234);
  job.set_checkpoint_iteration(1234);
  job.set_create_time_unix_ms(500);
  job.set_start_time_unix_ms(1000);
  job.set_end_time_unix_ms(33000);
  v1::JobSpec* spec = job.mutable_spec();
  spec->set_task(task);
  spec->set_algorithm(v1::ALGORITHM_EPROP_SYMMETRIC);
  spec->set_seed(1);
  spec->set_threads(1);
  spec->mutable_network()->set_n_lif(64);
  spec->mutable_network()->set_n_alif(64);
  spec->mutable_optimizer()->set_kind(v1::OPTIMIZER_KIND_ADAM);
  spec->mutable_optimizer()->set_learning_rate(0.001);
  v1::ReinforcementSpec* rl = spec->mutable_reinforcement();
  rl->set_source(task == v1::TASK_BREAKOUT ? v1::ENVIRONMENT_SOURCE_BUILTIN
                                           : v1::ENVIRONMENT_SOURCE_REMOTE);
  rl->set_max_frames(5000000);
  rl->set_num_envs(32);
  rl->set_max_queueing_delay_ms(20);
  rl->mutable_observation_spec()->set_kind(v1::OBSERVATION_KIND_SPIKES);
  for (int d : {10, 10, 4}) rl->mutable_observation_spec()->add_shape(d);
  rl->set_num_actions(3);
  rl->set_steps_per_action(5);
  rl->set_unroll_decisions(20);
  rl->set_discount(0.99);
  rl->set_entropy_cost(0.01);
  rl->set_value_cost(0.5);
  rl->set_report_every_frames(100000);
  *job.mutable_latest_metrics() = ReportProto();
  return job;
}

TEST(RlJobFormatTest, RemoteJobs) {
  EXPECT_FALSE(IsRemoteJob(RlJob(v1::TASK_BREAKOUT).spec()));
  EXPECT_TRUE(IsRemoteJob(RlJob(v1::TASK_REMOTE_ENVIRONMENT).spec()));
  v1::JobSpec remote_breakout = RlJob(v1::TASK_BREAKOUT).spec();
  remote_breakout.mutable_reinforcement()->set_source(
      v1::ENVIRONMENT_SOURCE_REMOTE);
  EXPECT_TRUE(IsRemoteJob(remote_breakout));
  v1::JobSpec supervised;
  supervised.set_task(v1::TASK_PATTERN_GENERATION);
  EXPECT_FALSE(IsRemoteJob(supervised));
}

TEST(RlJobFormatTest, SummaryStatusAndList) {
  const v1::Job job = RlJob(v1::TASK_BREAKOUT);
  EXPECT_EQ(FinalSummary(job),
            "job-000002 succeeded after 1234 updates and 400000 frames in "
            "32.0 s: average return of the last 100 episodes 1.74 (1500 "
            "episodes)");
  EXPECT_EQ(FinalSummaryJson(job),
            "{\"job_id\":\"job-000002\",\"state\":\"succeeded\","
            "\"iterations\":1234,\"frames\":400000,\"episodes\":1500,"
            "\"avg_return_last100\":1.7400,\"reached_stop_criterion\":false}");
  EXPECT_EQ(LatestMetricText(job), "return 1.74");
  const std::string status = JobStatusJson(job);
  EXPECT_THAT(status,
              testing::HasSubstr(",\"iterations\":1234,\"source\":\"builtin\","
                                 "\"max_frames\":5000000,"));
  EXPECT_THAT(status, testing::Not(testing::HasSubstr("max_iterations")));
  EXPECT_THAT(status, testing::HasSubstr(",\"latest_metrics\":" +
                                         RlMetricsJson(Report())));
  const std::string details = JobDetails(job);
  EXPECT_THAT(details, testing::HasSubstr("\nframes      400000 of 5000000\n"));
  EXPECT_THAT(details, testing::HasSubstr("\nupdates     1234\n"));
  EXPECT_THAT(details, testing::HasSubstr("\ncheckpoint  update 1234\n"));
  EXPECT_THAT(details,
              testing::HasSubstr("\nmetrics     update 1234: 400000 frames, "
                                 "1500 episodes, average return 1.74"));
  EXPECT_THAT(details, testing::HasSubstr("32 built-in games, observation "
                                          "spikes:10x10x4, 3 actions"));
  EXPECT_THAT(JobListJson(job),
              testing::EndsWith(",\"frames\":400000,\"episodes\":1500,"
                                "\"avg_return_last100\":1.7400}"));
  EXPECT_THAT(JobTable({job}), testing::HasSubstr("ITERATIONS  METRIC"));

  v1::Job early = job;
  early.set_state(v1::JOB_STATE_CANCELLED);
  early.mutable_latest_metrics()->set_episodes(0);
  EXPECT_THAT(FinalSummary(early),
              testing::EndsWith("cancelled after 1234 updates and 400000 "
                                "frames in 32.0 s: no episode finished"));
  early.clear_latest_metrics();
  EXPECT_EQ(FinalSummary(early),
            "job-000002 cancelled after 1234 updates in 32.0 s");
  EXPECT_EQ(LatestMetricText(early), "-");
  EXPECT_THAT(JobStatusJson(early),
              testing::Not(testing::HasSubstr("latest_metrics")));
}

TEST(RlJobFormatTest, RemoteJobsShowConnectedEnvironments) {
  const v1::Job job = RlJob(v1::TASK_REMOTE_ENVIRONMENT);
  EXPECT_THAT(JobStatusJson(job), testing::HasSubstr("\"source\":\"remote\""));
  EXPECT_THAT(JobStatusJson(job),
              testing::HasSubstr(",\"connected_environments\":8}"));
  EXPECT_THAT(JobDetails(job),
              testing::HasSubstr("8 environment(s) connected"));
  EXPECT_THAT(JobDetails(job),
              testing::HasSubstr("up to 32 remote environments (queueing "
                                 "delay <= 20 ms)"));
}

TEST(RlJobFormatTest, SupervisedJobsKeepTheirFormat) {
  v1::Job job;
  job.set_job_id("job-000001");
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  job.set_iterations_completed(60);
  job.set_start_time_unix_ms(1000);
  job.set_end_time_unix_ms(3100);
  job.mutable_spec()->set_task(v1::TASK_PATTERN_GENERATION);
  job.mutable_spec()->mutable_schedule()->set_max_iterations(60);
  job.mutable_latest_metrics()->set_iteration(60);
  job.mutable_latest_metrics()->set_nmse(0.41);
  EXPECT_EQ(FinalSummary(job),
            "job-000001 succeeded after 60 iterations in 2.1 s: normalised "
            "MSE 0.41");
  EXPECT_EQ(FinalSummaryJson(job),
            "{\"job_id\":\"job-000001\",\"state\":\"succeeded\","
            "\"iterations\":60,\"nmse\":0.41,\"reached_stop_criterion\":"
            "false}");
  EXPECT_THAT(JobStatusJson(job),
              testing::HasSubstr(",\"iterations\":60,"
                                 "\"max_iterations\":60,"
                                 "\"reached_stop_criterion\":false,"));
  EXPECT_THAT(JobTable({job}), testing::HasSubstr("ITERATIONS  ERROR/NMSE"));
  EXPECT_THAT(JobDetails(job), testing::HasSubstr("\niterations  60 of 60\n"));
}

}  // namespace rl_format

}  // namespace
}  // namespace eprop::cli
