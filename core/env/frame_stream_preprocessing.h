// The ALE preprocessing of core/env/atari_preprocessing.h for an environment
// that is not stepped locally but streams its raw frames, one at a time,
// each together with the outcome (reward, terminated, truncated) of the
// previous raw action, and waits for the raw action to execute next; after
// an episode ended the environment resets itself and the frame is the first
// of the next episode (the protocol of proto/eprop/v1/environments.proto).
//
// Pure logic, one object per environment. For every frame, OnFrame() says
// either
//   - answer this frame now with raw_action: the frame lies inside a
//     frame-skip window (the agent's action repeated, sticky actions
//     applied) or in the no-op start of an episode; or
//   - a decision is due: observation() holds the screen_size^2 grayscale
//     observation, and the answer the summed (optionally clipped) reward
//     since the previous decision and whether the episode ended since then
//     (the observation is then already the first of the next episode, after
//     its no-ops). The caller asks its agent and calls Act(action), which
//     returns the raw action to answer the frame with.
//
// Equivalence. Fed the frames of a FrameEnvironment that is reset whenever a
// raw action ends its episode (and once before the first frame), with the
// same seed, options and agent actions, the decisions carry exactly the
// observations, rewards and episode ends an agent sees through
// AtariPreprocessing (Reset() at the start and after every step that ended
// the episode, Step(action) otherwise), and the raw actions are the same:
// both run FramePreprocessor. The one difference is unseen by an agent:
// AtariPreprocessing's observation of a step that ends the episode includes
// the terminal frame, which a stream never shows (it sends the next
// episode's first frame instead); the agent acts on Reset()'s observation.
// Rewards and episode ends during no-op starts are dropped, as in
// AtariPreprocessing::Reset().
#ifndef EPROP_CORE_ENV_FRAME_STREAM_PREPROCESSING_H_
#define EPROP_CORE_ENV_FRAME_STREAM_PREPROCESSING_H_

#include <cstdint>
#include <vector>

#include "core/env/atari_preprocessing.h"

namespace eprop::env {

class FrameStreamPreprocessing {
 public:
  // The outcome of a raw action, as the environment reports it.
  using Outcome = FrameEnvironment::StepResult;

  // What to do with a frame.
  struct FrameAnswer {
    // false: answer the frame with raw_action now; true: a decision is due
    // (call Act).
    bool decide = false;
    int raw_action = 0;  // !decide
    // decide: since the previous decision (all zero for the first decision
    // after construction or Restart()): the summed reward, clipped to its
    // sign if clip_rewards, the same unclipped, and the episode end.
    float reward = 0.0f;
    float unclipped_reward = 0.0f;
    bool terminated = false;
    bool truncated = false;
  };

  // Frames are height x width x 3 RGB bytes, row-major; `options` must be
  // valid (PreprocessingOptions::Validate). The first frame starts an
  // episode.
  FrameStreamPreprocessing(int height, int width, uint64_t seed,
                           PreprocessingOptions options = {});

  // Starts over (e.g. a new environment connected): the next frame is the
  // first of an episode, and its outcome is ignored. A decision that is due
  // is dropped. The random state goes on.
  void Restart();

  // The next frame (frame_size() bytes) and the outcome of the raw action
  // that produced it (ignored for the first frame after construction or
  // Restart()). Must not be called while a decision is due.
  FrameAnswer OnFrame(const uint8_t* rgb, const Outcome& outcome);

  // The agent's action for the due decision; returns the raw action to
  // answer the decision's frame with (the first of the window; sticky
  // actions applied). Only when decision_due().
  int Act(int action);
  bool decision_due() const { return phase_ == Phase::kDecisionDue; }

  // The observation of the last decision: screen_size^2 grayscale bytes,
  // and as floats in [0, 1] (values / 255, observation_size() of them).
  const std::vector<uint8_t>& observation() const {
    return core_.observation();
  }
  void ObserveFloat(float* out) const { core_.ObserveFloat(out); }
  int observation_size() const { return core_.observation_size(); }
  int64_t frame_size() const { return frame_size_; }
  // The number of no-op frames of the current (or last) episode start.
  int last_noop_count() const { return last_noop_count_; }
  const PreprocessingOptions& options() const { return core_.options(); }

 private:
  enum class Phase {
    kRestart,      // the next frame starts an episode; its outcome is ignored
    kNoops,        // answering the no-op frames of an episode start
    kWindow,       // answering the raw frames of an agent step
    kDecisionDue,  // waiting for Act()
  };

  // `rgb` is the first frame of an episode: draws the no-op count.
  FrameAnswer StartEpisode(const uint8_t* rgb);
  // A decision on observation(), with the pending outcome.
  FrameAnswer Decide();
  static FrameAnswer Answer(int raw_action);

  FramePreprocessor core_;
  int64_t frame_size_;
  Phase phase_ = Phase::kRestart;
  int noops_left_ = 0;  // no-op answers still to give (kNoops)
  int last_noop_count_ = 0;
  // The outcome since the last decision, reported by the next one.
  Outcome pending_;
  float pending_unclipped_ = 0.0f;
};

}  // namespace eprop::env

#endif  // EPROP_CORE_ENV_FRAME_STREAM_PREPROCESSING_H_
