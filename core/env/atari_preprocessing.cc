#include "core/env/atari_preprocessing.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"

namespace eprop::env {

FrameEnvironment::StepResult PongFrameEnvironment::Step(int action) {
  const Pong::StepResult r = pong_->Step(action);
  return {r.reward, r.terminated, r.truncated};
}

void RgbToGray(const uint8_t* rgb, int num_pixels, uint8_t* gray) {
  for (int i = 0; i < num_pixels; ++i, rgb += 3) {
    gray[i] = Luma601(rgb[0], rgb[1], rgb[2]);
  }
}

AreaResizer::AreaResizer(int in_height, int in_width, int out_height,
                         int out_width)
    : in_h_(in_height),
      in_w_(in_width),
      out_h_(out_height),
      out_w_(out_width),
      rows_(static_cast<size_t>(in_height) * out_width) {
  assert(in_height > 0 && in_width > 0 && out_height > 0 && out_width > 0);
  BuildAxis(in_w_, out_w_, &x_taps_, &x_begin_);
  BuildAxis(in_h_, out_h_, &y_taps_, &y_begin_);
}

// Output pixel o covers input interval [o * s, (o + 1) * s) with
// s = in / out; input pixel i covers [i, i + 1). The weight of i is the
// length of the overlap divided by s, so the weights of o sum to 1. For
// upscaling (s < 1) this is the same rule (nearest-like box sampling).
void AreaResizer::BuildAxis(int in, int out, std::vector<Tap>* taps,
                            std::vector<int>* begin) {
  const double scale = static_cast<double>(in) / out;
  taps->clear();
  begin->assign(1, 0);
  for (int o = 0; o < out; ++o) {
    const double lo = o * scale, hi = (o + 1) * scale;
    const int first = static_cast<int>(lo);
    for (int i = first; i < in && i < hi; ++i) {
      const double overlap =
          std::min<double>(hi, i + 1) - std::max<double>(lo, i);
      if (overlap > 1e-12) taps->push_back({i, overlap / scale});
    }
    begin->push_back(static_cast<int>(taps->size()));
  }
}

void AreaResizer::Resize(const uint8_t* in, uint8_t* out) {
  // Horizontal pass: every input row to out_w_ columns.
  for (int y = 0; y < in_h_; ++y) {
    const uint8_t* row = in + static_cast<size_t>(y) * in_w_;
    double* dst = &rows_[static_cast<size_t>(y) * out_w_];
    for (int o = 0; o < out_w_; ++o) {
      double sum = 0.0;
      for (int t = x_begin_[o]; t < x_begin_[o + 1]; ++t) {
        sum += x_taps_[t].weight * row[x_taps_[t].index];
      }
      dst[o] = sum;
    }
  }
  // Vertical pass, then round half up and saturate.
  for (int o = 0; o < out_h_; ++o) {
    for (int x = 0; x < out_w_; ++x) {
      double sum = 0.0;
      for (int t = y_begin_[o]; t < y_begin_[o + 1]; ++t) {
        sum += y_taps_[t].weight * rows_[y_taps_[t].index * out_w_ + x];
      }
      // A tiny epsilon keeps values like 58.9999999 from rounding wrongly
      // when the exact average is an integer or a half.
      const double v = std::clamp(sum + 0.5 + 1e-9, 0.0, 255.0);
      out[o * out_w_ + x] = static_cast<uint8_t>(v);
    }
  }
}

absl::Status PreprocessingOptions::Validate() const {
  if (frame_skip < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame_skip must be >= 1, got ", frame_skip));
  }
  if (noop_max < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("noop_max must be >= 0, got ", noop_max));
  }
  if (screen_size < 1 || screen_size > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("screen_size must be in [1, 1024], got ", screen_size));
  }
  if (!(sticky_action_probability >= 0.0 && sticky_action_probability <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sticky_action_probability must be in [0, 1], got ",
                     sticky_action_probability));
  }
  return absl::OkStatus();
}

FramePreprocessor::FramePreprocessor(int height, int width, uint64_t seed,
                                     PreprocessingOptions options)
    : rng_(seed),
      options_(options),
      resizer_(height, width, options.screen_size, options.screen_size),
      observation_(options.screen_size * options.screen_size) {
  assert(options_.Validate().ok());
  for (auto& g : gray_) g.resize(static_cast<size_t>(height) * width);
}

int FramePreprocessor::BeginEpisode() {
  previous_action_ = 0;
  return options_.noop_max > 0
             ? 1 + static_cast<int>(rng_.UniformInt(options_.noop_max))
             : 0;
}

void FramePreprocessor::ObserveFrame(const uint8_t* rgb) {
  Capture(rgb);
  Emit(/*two_frames=*/false);
}

void FramePreprocessor::BeginWindow(int action) {
  action_ = action;
  frame_ = 0;
  captured_at_ = -2;
  two_frames_ = false;
  last_captured_ = false;
  total_ = StepResult();
}

int FramePreprocessor::NextRawAction() {
  const int action = rng_.Uniform() < options_.sticky_action_probability
                         ? previous_action_
                         : action_;
  previous_action_ = action;
  return action;
}

bool FramePreprocessor::EndRawFrame(const StepResult& outcome,
                                    const uint8_t* rgb) {
  const int t = frame_++;
  total_.reward += outcome.reward;
  const bool ended = outcome.terminated || outcome.truncated;
  assert(rgb != nullptr || ended);
  // Only the frames that can enter the max-pool are converted: the last two
  // of the window, or the frame that ends the episode.
  last_captured_ = false;
  if ((ended || t >= options_.frame_skip - 2) && rgb != nullptr) {
    Capture(rgb);
    two_frames_ = captured_at_ == t - 1;
    captured_at_ = t;
    last_captured_ = true;
  }
  if (ended) {
    total_.terminated = outcome.terminated;
    total_.truncated = outcome.truncated;
    return true;
  }
  return frame_ >= options_.frame_skip;
}

FramePreprocessor::StepResult FramePreprocessor::FinishWindow() {
  if (last_captured_) Emit(two_frames_);
  StepResult result = total_;
  unclipped_reward_ = result.reward;
  if (options_.clip_rewards) {
    result.reward =
        static_cast<float>((result.reward > 0) - (result.reward < 0));
  }
  return result;
}

void FramePreprocessor::Capture(const uint8_t* rgb) {
  std::swap(gray_[0], gray_[1]);  // gray_[1]: the previous capture
  RgbToGray(rgb, static_cast<int>(gray_[0].size()), gray_[0].data());
}

void FramePreprocessor::Emit(bool two_frames) {
  if (two_frames) {
    // Max-pool into gray_[1] (the older frame, no longer needed).
    for (size_t i = 0; i < gray_[0].size(); ++i) {
      gray_[1][i] = std::max(gray_[0][i], gray_[1][i]);
    }
    resizer_.Resize(gray_[1].data(), observation_.data());
  } else {
    resizer_.Resize(gray_[0].data(), observation_.data());
  }
}

void FramePreprocessor::ObserveFloat(float* out) const {
  for (size_t i = 0; i < observation_.size(); ++i) {
    out[i] = observation_[i] * (1.0f / 255.0f);
  }
}

AtariPreprocessing::AtariPreprocessing(FrameEnvironment* env, uint64_t seed,
                                       PreprocessingOptions options)
    : env_(env), core_(env->height(), env->width(), seed, options) {}

const std::vector<uint8_t>& AtariPreprocessing::Reset() {
  env_->Reset();
  last_noop_count_ = core_.BeginEpisode();
  for (int i = 0; i < last_noop_count_; ++i) {
    const StepResult r = env_->Step(0);
    if (r.terminated || r.truncated) env_->Reset();
  }
  assert(env_->frame().size() ==
         static_cast<size_t>(env_->height()) * env_->width() * 3);
  core_.ObserveFrame(env_->frame().data());
  return core_.observation();
}

AtariPreprocessing::StepResult AtariPreprocessing::Step(int action) {
  core_.BeginWindow(action);
  bool done = false;
  while (!done) {
    const StepResult r = env_->Step(core_.NextRawAction());
    done = core_.EndRawFrame(r, env_->frame().data());
  }
  return core_.FinishWindow();
}

}  // namespace eprop::env
