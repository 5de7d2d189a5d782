#include "core/env/frame_stream_preprocessing.h"

#include <cassert>

namespace eprop::env {

FrameStreamPreprocessing::FrameStreamPreprocessing(int height, int width,
                                                   uint64_t seed,
                                                   PreprocessingOptions options)
    : core_(height, width, seed, options),
      frame_size_(int64_t{height} * width * 3) {}

void FrameStreamPreprocessing::Restart() {
  phase_ = Phase::kRestart;
  noops_left_ = 0;
}

FrameStreamPreprocessing::FrameAnswer FrameStreamPreprocessing::OnFrame(
    const uint8_t* rgb, const Outcome& outcome) {
  switch (phase_) {
    case Phase::kRestart:
      pending_ = Outcome();
      pending_unclipped_ = 0.0f;
      return StartEpisode(rgb);
    case Phase::kNoops:
      // The outcome of a no-op is dropped; an episode that ended meanwhile
      // has reset itself and the no-ops go on (AtariPreprocessing::Reset).
      if (noops_left_ > 0) {
        --noops_left_;
        return Answer(0);
      }
      core_.ObserveFrame(rgb);
      return Decide();
    case Phase::kWindow: {
      const bool ended = outcome.terminated || outcome.truncated;
      // After an episode end the frame belongs to the next episode.
      if (!core_.EndRawFrame(outcome, ended ? nullptr : rgb)) {
        return Answer(core_.NextRawAction());
      }
      pending_ = core_.FinishWindow();
      pending_unclipped_ = core_.unclipped_reward();
      if (ended) return StartEpisode(rgb);
      return Decide();
    }
    case Phase::kDecisionDue:
      break;
  }
  assert(false && "OnFrame while a decision is due");
  return Answer(0);
}

int FrameStreamPreprocessing::Act(int action) {
  assert(phase_ == Phase::kDecisionDue);
  core_.BeginWindow(action);
  phase_ = Phase::kWindow;
  return core_.NextRawAction();
}

FrameStreamPreprocessing::FrameAnswer FrameStreamPreprocessing::StartEpisode(
    const uint8_t* rgb) {
  last_noop_count_ = core_.BeginEpisode();
  if (last_noop_count_ == 0) {
    core_.ObserveFrame(rgb);
    return Decide();
  }
  phase_ = Phase::kNoops;
  noops_left_ = last_noop_count_ - 1;
  return Answer(0);
}

FrameStreamPreprocessing::FrameAnswer FrameStreamPreprocessing::Decide() {
  phase_ = Phase::kDecisionDue;
  FrameAnswer answer;
  answer.decide = true;
  answer.reward = pending_.reward;
  answer.unclipped_reward = pending_unclipped_;
  answer.terminated = pending_.terminated;
  answer.truncated = pending_.truncated;
  pending_ = Outcome();
  pending_unclipped_ = 0.0f;
  return answer;
}

FrameStreamPreprocessing::FrameAnswer FrameStreamPreprocessing::Answer(
    int raw_action) {
  FrameAnswer answer;
  answer.raw_action = raw_action;
  return answer;
}

}  // namespace eprop::env
