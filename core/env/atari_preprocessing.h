// ALE / Gymnasium AtariPreprocessing conventions over any RGB frame source.
//
// Per agent step (Step(action)):
//   - the action is repeated for frame_skip raw frames; rewards are summed;
//     the loop stops early when the episode terminates or is truncated;
//   - sticky actions (ALE v5, Machado et al. 2018): on every raw frame, with
//     probability sticky_action_probability the previously executed action
//     is executed instead of the requested one (previous = 0 after Reset);
//   - the observation is the pixel-wise maximum of the grayscale versions of
//     the last two raw frames of the window, resized to screen_size^2 by
//     area averaging. If the episode ends early, the terminal frame is used
//     (with its predecessor when that was one of the window's last two);
//   - optionally the summed reward is clipped to its sign.
// Reset() resets the source and then executes k no-op (action 0) frames,
// k uniform in [1, noop_max] (Gymnasium and baselines draw from 1, not 0;
// noop_max = 0 disables), resetting again if the source ends meanwhile.
//
// Differences from Gymnasium: on an early stop Gymnasium keeps the frames of
// the previous window in its max-pool buffer; here the terminal frame is
// always part of the observation. Gymnasium's grayscale comes from ALE's
// palette; here it is computed from RGB:
//   Y = round((299 R + 587 G + 114 B) / 1000)   (ITU-R BT.601 luma,
// as OpenCV's RGB2GRAY), in exact integer arithmetic, halves rounded up.
#ifndef EPROP_CORE_ENV_ATARI_PREPROCESSING_H_
#define EPROP_CORE_ENV_ATARI_PREPROCESSING_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "core/env/pong.h"
#include "core/util/random.h"

namespace eprop::env {

// An environment that renders RGB frames (e.g. an Atari game).
class FrameEnvironment {
 public:
  struct StepResult {
    float reward = 0.0f;
    bool terminated = false;
    bool truncated = false;
  };

  virtual ~FrameEnvironment() = default;
  virtual void Reset() = 0;
  // One raw frame; `action` in [0, num_actions()).
  virtual StepResult Step(int action) = 0;
  // height() x width() x 3, row-major RGB; valid until the next call.
  virtual const std::vector<uint8_t>& frame() const = 0;
  virtual int height() const = 0;
  virtual int width() const = 0;
  virtual int num_actions() const = 0;
};

// Presents a Pong game (not owned) as a FrameEnvironment.
class PongFrameEnvironment final : public FrameEnvironment {
 public:
  explicit PongFrameEnvironment(Pong* pong) : pong_(pong) {}
  void Reset() override { pong_->Reset(); }
  StepResult Step(int action) override;
  const std::vector<uint8_t>& frame() const override { return pong_->frame(); }
  int height() const override { return Pong::kHeight; }
  int width() const override { return Pong::kWidth; }
  int num_actions() const override { return pong_->num_actions(); }

 private:
  Pong* pong_;
};

// ITU-R BT.601 luma of one RGB pixel, see the file comment for rounding.
inline uint8_t Luma601(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((299u * r + 587u * g + 114u * b + 500u) / 1000u);
}

// Converts num_pixels interleaved RGB pixels to grayscale.
void RgbToGray(const uint8_t* rgb, int num_pixels, uint8_t* gray);

// Area ("INTER_AREA") resampling of a single-channel image: each output
// pixel is the average of the input rectangle it covers, with input pixels
// weighted by the fraction of them inside it (exact for any scale factor).
// The result is rounded to nearest, halves up. Tables are built once.
class AreaResizer {
 public:
  AreaResizer(int in_height, int in_width, int out_height, int out_width);
  // `in` is in_height x in_width, `out` out_height x out_width, row-major.
  void Resize(const uint8_t* in, uint8_t* out);

 private:
  struct Tap {
    int index;
    double weight;
  };
  // For each output index along an axis of length `in` -> `out`, the input
  // taps; tap ranges are given by `begin` (size out + 1).
  static void BuildAxis(int in, int out, std::vector<Tap>* taps,
                        std::vector<int>* begin);

  int in_h_, in_w_, out_h_, out_w_;
  std::vector<Tap> x_taps_, y_taps_;
  std::vector<int> x_begin_, y_begin_;
  std::vector<double> rows_;  // in_h x out_w, horizontally resized
};

struct PreprocessingOptions {
  int frame_skip = 4;
  int noop_max = 30;
  int screen_size = 84;
  // 0 disables; ALE v5 uses 0.25.
  double sticky_action_probability = 0.0;
  bool clip_rewards = false;

  absl::Status Validate() const;
};

// The ALE conventions, whatever the frames come from: the random draws (no-op
// counts, sticky actions), the raw frames of one agent step (summed rewards,
// early stop, the frames that enter the max-pool) and the observation.
// AtariPreprocessing drives it over a local FrameEnvironment;
// FrameStreamPreprocessing (frame_stream_preprocessing.h) over frames that
// arrive one at a time from a remote environment. Both draw the same random
// numbers in the same order: one UniformInt per episode start (if noop_max >
// 0) and one Uniform per raw frame of an agent step.
class FramePreprocessor {
 public:
  using StepResult = FrameEnvironment::StepResult;

  // Frames are height x width x 3; `options` must be valid.
  FramePreprocessor(int height, int width, uint64_t seed,
                    PreprocessingOptions options);

  // A new episode: the previously executed action becomes 0 (no-op).
  // Returns the number of no-op frames to execute before the first
  // observation: uniform in [1, noop_max], 0 if noop_max is 0.
  int BeginEpisode();
  // Sets observation() from one frame alone (an episode's first).
  void ObserveFrame(const uint8_t* rgb);

  // One agent step: `action` for up to frame_skip raw frames. Per raw
  // frame, call NextRawAction(), execute it, then EndRawFrame() with its
  // outcome, until EndRawFrame() returns true; then FinishWindow().
  void BeginWindow(int action);
  // The raw action of the step's next frame, sticky actions applied (one
  // random draw, whatever the probability, as ALE).
  int NextRawAction();
  // The outcome of the raw action and the frame it produced: `rgb`, or
  // null if that frame is not known (then the outcome must end the
  // episode). Returns true when the step is over: frame_skip frames, or the
  // episode ended.
  bool EndRawFrame(const StepResult& outcome, const uint8_t* rgb);
  // The step's outcome: the summed reward (clipped to its sign if
  // clip_rewards) and the episode end. Sets observation() to the maximum of
  // the step's last two frames (only the last if it was the step's first),
  // unless the step's last frame was not known (null above).
  StepResult FinishWindow();
  // The summed reward of the last finished step before clipping.
  float unclipped_reward() const { return unclipped_reward_; }

  // screen_size x screen_size grayscale, row-major.
  const std::vector<uint8_t>& observation() const { return observation_; }
  // The observation scaled to [0, 1], observation_size() floats.
  void ObserveFloat(float* out) const;
  int observation_size() const {
    return options_.screen_size * options_.screen_size;
  }
  const PreprocessingOptions& options() const { return options_; }

 private:
  // Grayscales `rgb` into gray_[0], moving the previous capture to
  // gray_[1].
  void Capture(const uint8_t* rgb);
  // observation_ = resize(max(gray_[0], gray_[1])) (or gray_[0] only).
  void Emit(bool two_frames);

  Rng rng_;
  PreprocessingOptions options_;
  AreaResizer resizer_;
  int previous_action_ = 0;
  // The agent step in progress.
  int action_ = 0;
  int frame_ = 0;  // raw frames ended so far
  int captured_at_ = -2;
  bool two_frames_ = false;
  bool last_captured_ = false;  // the last ended frame was captured
  StepResult total_;
  float unclipped_reward_ = 0.0f;
  std::vector<uint8_t> gray_[2];
  std::vector<uint8_t> observation_;
};

class AtariPreprocessing {
 public:
  using StepResult = FrameEnvironment::StepResult;

  // `env` is not owned and must outlive this object; `options` must be
  // valid. Does not reset the environment; call Reset() first.
  AtariPreprocessing(FrameEnvironment* env, uint64_t seed,
                     PreprocessingOptions options = {});

  // Starts an episode (with no-op starts); returns the first observation.
  const std::vector<uint8_t>& Reset();
  // One agent step (frame_skip raw frames); updates observation().
  StepResult Step(int action);

  // screen_size x screen_size grayscale, row-major.
  const std::vector<uint8_t>& observation() const {
    return core_.observation();
  }
  // The observation scaled to [0, 1], observation_size() floats.
  void ObserveFloat(float* out) const { core_.ObserveFloat(out); }
  int observation_size() const { return core_.observation_size(); }
  int num_actions() const { return env_->num_actions(); }
  // The number of no-op frames executed by the last Reset().
  int last_noop_count() const { return last_noop_count_; }

 private:
  FrameEnvironment* env_;
  FramePreprocessor core_;
  int last_noop_count_ = 0;
};

}  // namespace eprop::env

#endif  // EPROP_CORE_ENV_ATARI_PREPROCESSING_H_
