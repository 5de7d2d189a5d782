#include "core/sim/conv_lif.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/reference/conv_reference.h"
#include "core/reference/reference.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eprop {
namespace {

using ::testing::HasSubstr;

// Largest |a - b| relative to the largest |b| (b is
// the reference).
double RelDiff(const MatD& a, const MatD& b) {
  EXPECT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.cols(), b.cols());
  const double scale = std::max(b.cwiseAbs().maxCoeff(), 1e-300);
  return (a - b).cwiseAbs().maxCoeff() / scale;
}

MatD RandomMatrix(Rng& rng, int rows, int cols, double lo, double hi) {
  MatD m(rows, cols);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) m(i, j) = rng.Uniform(lo, hi);
  }
  return m;
}

// 12x12x2 frames -> 3 filters 4x4 stride 2 (5x5x3)
// [-> 2 filters 2x2 stride 1 (4x4x2)].
ConvFrontEndConfig SmallConfig(int layers) {
  ConvFrontEndConfig c;
  c.frame_height = 12;
  c.frame_width = 12;
  c.frame_channels = 2;
  c.layers = {{3, 4, 2}};
  if (layers == 2) c.layers.push_back({2, 2, 1});
  c.n_ref = 2;
  c.n_out = 4;
  c.init_gain = 1.5;
  return c;
}

// A recorded run of the front end, per sample and
// layer: inputs, state and psi as [T x .] matrices,
// plus the state before the first recorded step.
struct Recording {
  int steps = 0;
  std::vector<MatD> frames;  // [b]: [T x frame size]
  std::vector<std::vector<MatD>> v, z,
      psi;  // [l][b]: [T x out_size]
  std::vector<std::vector<VecD>> v0, r0,
      z0;      // [l][b]: initial state
  MatD dE_dy;  // [T*B x n_out]
};

// Simulates `warmup` unrecorded steps, then records
// `steps` steps; a new random frame is drawn with
// probability 1/2 per step (so frames are held for
// 1 to several steps). reset_step >= 0 resets
// sample reset_sample before that recorded step.
Recording Simulate(ConvFrontEnd<double>* front, int warmup, int steps, Rng& rng,
                   int reset_step = -1, int reset_sample = 0) {
  const int batch = front->batch();
  const int layers = front->num_layers();
  Recording run;
  run.steps = steps;
  run.frames.assign(batch, MatD(steps, front->frame_size()));
  for (auto* m : {&run.v, &run.z, &run.psi}) {
    m->assign(layers, std::vector<MatD>(batch));
    for (int l = 0; l < layers; ++l) {
      for (int b = 0; b < batch; ++b) {
        (*m)[l][b].resize(steps, front->geometries()[l].out_size());
      }
    }
  }
  for (auto* m : {&run.v0, &run.r0, &run.z0}) {
    m->assign(layers, std::vector<VecD>(batch));
  }
  for (int t = 0; t < warmup + steps; ++t) {
    if (t == warmup) {
      front->BeginUnroll();
      for (int l = 0; l < layers; ++l) {
        for (int b = 0; b < batch; ++b) {
          run.v0[l][b] = front->v(l).row(b).transpose();
          run.r0[l][b] = front->refractory(l).row(b).transpose();
          run.z0[l][b] = front->z(l).row(b).transpose();
        }
      }
    }
    if (t == 0 || rng.Bernoulli(0.5)) {
      EXPECT_TRUE(
          front->SetFrames(RandomMatrix(rng, batch, front->frame_size(), 0, 1))
              .ok());
    }
    const int s = t - warmup;
    if (s == reset_step) {
      front->ResetSample(reset_sample);
      for (int l = 0; l < layers; ++l) {
        const int n = front->geometries()[l].out_size();
        if (s == 0) {
          run.v0[l][reset_sample].setZero(n);
          run.r0[l][reset_sample].setZero(n);
          run.z0[l][reset_sample].setZero(n);
        }
      }
    }
    front->Step();
    if (s < 0) continue;
    // The frame used at this step is the record's
    // frame of the step.
    const ConvRecord<double>& rec = front->record();
    const int f = rec.frame_of_step[s];
    for (int b = 0; b < batch; ++b) {
      run.frames[b].row(s) = Eigen::Map<const RowVec<double>>(
          rec.frames.data() +
              (static_cast<int64_t>(f) * batch + b) * front->frame_size(),
          front->frame_size());
      for (int l = 0; l < layers; ++l) {
        run.v[l][b].row(s) = front->v(l).row(b);
        run.z[l][b].row(s) = front->z(l).row(b);
        run.psi[l][b].row(s) = front->psi(l).row(b);
      }
    }
  }
  run.dE_dy = RandomMatrix(rng, steps * batch, front->config().n_out, -1, 1);
  return run;
}

MatD SampleErrors(const Recording& run, int batch, int b) {
  MatD out(run.steps, run.dE_dy.cols());
  for (int t = 0; t < run.steps; ++t) out.row(t) = run.dE_dy.row(t * batch + b);
  return out;
}

TEST(ConvGeometryTest, PaperShapes) {
  ConvFrontEndConfig config;
  ASSERT_TRUE(config.Validate().ok());
  const std::vector<ConvGeometry> g = config.Geometries();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].out_h(), 20);
  EXPECT_EQ(g[0].out_w(), 20);
  EXPECT_EQ(g[0].out_size(), 20 * 20 * 16);
  EXPECT_EQ(g[0].patch_size(), 64);
  EXPECT_EQ(g[1].in_size(), 6400);
  EXPECT_EQ(g[1].out_h(), 17);
  EXPECT_EQ(g[1].out_size(), 2312);
  EXPECT_EQ(g[1].patch_size(), 256);
  const ConvLifConstants c = MakeConvLifConstants(config);
  EXPECT_DOUBLE_EQ(c.alpha, std::exp(-1.0 / 15.0));
  EXPECT_DOUBLE_EQ(c.kappa, std::exp(-1.0 / 2.0));
  EXPECT_EQ(c.c_in, 1.0);
  EXPECT_EQ(c.n_ref, 5);

  auto front = ConvFrontEnd<float>::Create(config, 2, 1);
  ASSERT_TRUE(front.ok()) << front.status();
  EXPECT_EQ(front->frame_size(), 84 * 84);
  EXPECT_EQ(front->output_size(), 2312);
  EXPECT_EQ(front->weights(0).rows(), 64);
  EXPECT_EQ(front->weights(0).cols(), 16);
  EXPECT_EQ(front->weights(1).rows(), 256);
  EXPECT_EQ(front->weights(1).cols(), 8);
  EXPECT_EQ(front->feedback(0).rows(), 6400);
  EXPECT_EQ(front->feedback(1).rows(), 2312);
  EXPECT_EQ(front->output().rows(), 2);
  EXPECT_EQ(front->output().cols(), 2312);
}

TEST(ConvGeometryTest, FlooredValidPadding) {
  ConvGeometry g{13, 11, 1, 2, 4, 3};
  ASSERT_TRUE(g.Validate().ok());
  EXPECT_EQ(g.out_h(), 4);  // (13 - 4) / 3 + 1
  EXPECT_EQ(g.out_w(),
            3);  // (11 - 4) / 3 + 1, floored
}

TEST(ConvFrontEndConfigTest, RejectsBadConfigs) {
  auto error_of = [](auto edit) {
    ConvFrontEndConfig c;
    edit(c);
    return std::string(c.Validate().message());
  };
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.layers.clear(); }),
              HasSubstr("layers must hold 1 to"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.layers[0].kernel = 100; }),
              HasSubstr("layers[0]: kernel must be in [1, "
                        "min(in_h, in_w) = 84]"));
  // Layer 2 sees a 20x20 input: a 21x21 kernel does
  // not fit.
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.layers[1].kernel = 21; }),
              HasSubstr("layers[1]: kernel must be in [1, "
                        "min(in_h, in_w) = 20]"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.layers[0].stride = 0; }),
              HasSubstr("layers[0]: stride must be "
                        "in [1, 8], got 0"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.layers[1].filters = 0; }),
              HasSubstr("layers[1]: filters must "
                        "be in [1, 4096], got 0"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.frame_height = 0; }),
              HasSubstr("frame_height must be in "
                        "[1, 4096], got 0"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.tau_m_ms = 0; }),
              HasSubstr("tau_m_ms must be finite "
                        "and > 0, got 0"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.v_th = -1; }),
              HasSubstr("v_th must be finite and > 0"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.n_ref = -1; }),
              HasSubstr("n_ref must be in [0, 10000], got -1"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.n_out = 0; }),
              HasSubstr("n_out must be in [1, 100000], got 0"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.tau_out_ms = -1; }),
              HasSubstr("tau_out_ms must be in [0"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.feedback_stddev = NAN; }),
              HasSubstr("feedback_stddev must be "
                        "finite and > 0"));
  EXPECT_THAT(error_of([](ConvFrontEndConfig& c) { c.threads = 0; }),
              HasSubstr("threads must be in [1, 256], got 0"));

  ConvFrontEndConfig bad;
  bad.layers[0].kernel = 0;
  auto front = ConvFrontEnd<float>::Create(bad, 4, 1);
  EXPECT_EQ(front.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConvFrontEnd<float>::Create(ConvFrontEndConfig(), 0, 1)
                .status()
                .message(),
            "batch must be in [1, 100000], got 0");
}

TEST(ConvFrontEndTest, RejectsBadShapes) {
  auto front = ConvFrontEnd<double>::Create(SmallConfig(2), 3, 7);
  ASSERT_TRUE(front.ok());
  EXPECT_THAT(std::string(front->SetFrames(MatD::Zero(3, 10)).message()),
              HasSubstr("frames must be [batch x frame "
                        "size] = [3 x 288], "
                        "got [3 x 10]"));
  EXPECT_THAT(std::string(front->SetWeights(1, MatD::Zero(2, 2)).message()),
              HasSubstr("weights of layer 1 must be [12 x "
                        "2], got [2 x 2]"));
  EXPECT_THAT(std::string(front->SetWeights(2, MatD::Zero(2, 2)).message()),
              HasSubstr("layer must be in [0, 1], got 2"));
  front->BeginUnroll();
  front->Step();
  front->Step();
  EXPECT_THAT(std::string(front->Gradient(MatD::Zero(6, 3)).status().message()),
              HasSubstr("dE_dy must be [recorded steps * "
                        "batch x n_out] = "
                        "[6 x 4], got [6 x 3]"));
  EXPECT_TRUE(front->Gradient(MatD::Zero(6, 4)).ok());
}

// Layer 0 equals the LSNN reference
// (core/reference) with the unfolded dense weight
// matrix, no recurrence and no adaptation, from a
// carried state; the conv reference agrees too.
TEST(ConvFrontEndTest, ForwardEqualsDenseUnfoldedNetwork) {
  const ConvFrontEndConfig config = SmallConfig(1);
  const int batch = 3, steps = 30;
  auto front = ConvFrontEnd<double>::Create(config, batch, 11);
  ASSERT_TRUE(front.ok());
  Rng rng(5);
  const Recording run = Simulate(&*front, 10, steps, rng);
  const ConvGeometry& g = front->geometries()[0];
  const ConvLifConstants& c = front->constants();

  NetworkConfig dense;
  dense.n_in = g.in_size();
  dense.n_lif = g.out_size();
  dense.n_alif = 0;
  dense.n_out = 1;
  dense.tau_m_ms = config.tau_m_ms;
  dense.v_th = config.v_th;
  dense.n_ref = config.n_ref;
  dense.gamma = config.gamma;
  dense.tau_out_ms = config.tau_out_ms;
  ASSERT_TRUE(dense.Validate().ok());
  Weights<double> w;
  w.w_in = reference::ConvToDense(g, front->weights(0));
  w.w_rec = MatD::Zero(g.out_size(), g.out_size());
  w.w_out = MatD::Zero(1, g.out_size());
  w.b_out = VecD::Zero(1);

  double spikes = 0, max_diff_v = 0;
  for (int b = 0; b < batch; ++b) {
    reference::SampleState initial = reference::SampleState::Zero(g.out_size());
    initial.v = run.v0[0][b];
    initial.r = run.r0[0][b];
    initial.z = run.z0[0][b];
    const reference::SampleTrajectory ref =
        reference::Forward(dense, w, run.frames[b], initial);
    const reference::ConvSampleTrajectory conv =
        reference::ConvForward(g, c, front->weights(0), run.frames[b],
                               run.v0[0][b], run.r0[0][b], run.z0[0][b]);
    EXPECT_EQ(run.z[0][b], ref.z) << "sample " << b;
    EXPECT_EQ(conv.z, ref.z) << "sample " << b;
    max_diff_v =
        std::max(max_diff_v, (run.v[0][b] - ref.v).cwiseAbs().maxCoeff());
    max_diff_v = std::max(max_diff_v, (conv.v - ref.v).cwiseAbs().maxCoeff());
    EXPECT_LT((run.psi[0][b] - ref.psi).cwiseAbs().maxCoeff(), 1e-13);
    EXPECT_LT((conv.psi - ref.psi).cwiseAbs().maxCoeff(), 1e-13);
    spikes += ref.z.sum();
  }
  EXPECT_LT(max_diff_v, 1e-12);
  // The comparison is meaningful: neurons spike,
  // but not always.
  const double rate = spikes / (batch * steps * g.out_size());
  EXPECT_GT(rate, 0.05);
  EXPECT_LT(rate, 0.6);
}

// The offline identity behind the gradient: for any
// G and x, with zbar(s) = alpha zbar(s-1) + c_in
// x(s) and Gbar(s) = G(s) + alpha Gbar(s+1), sum_s
// G(s) zbar(s) = c_in sum_s Gbar(s) x(s).
TEST(ConvFrontEndTest, BackwardAlphaFilterIdentity) {
  Rng rng(3);
  const int steps = 200;
  const double alpha = std::exp(-1.0 / 15.0), c_in = 1 - alpha;
  std::vector<double> g(steps), x(steps);
  for (int t = 0; t < steps; ++t) {
    g[t] = rng.Uniform(-1, 1);
    x[t] = rng.Bernoulli(0.2) ? 1.0 : 0.0;
  }
  double forward = 0, zbar = 0;
  for (int t = 0; t < steps; ++t) {
    zbar = alpha * zbar + c_in * x[t];
    forward += g[t] * zbar;
  }
  double backward = 0, gbar = 0;
  for (int t = steps - 1; t >= 0; --t) {
    gbar = g[t] + alpha * gbar;
    backward += c_in * gbar * x[t];
  }
  EXPECT_NEAR(backward, forward, 1e-13 * std::abs(forward));
}

// Offline gradient of a single layer with analog
// frames held for a variable number of steps, from
// a carried state, against explicit per-synapse
// traces (conv reference) and against the LSNN
// reference's e-prop on the unfolded network,
// folded over shared weights.
TEST(ConvFrontEndTest, OfflineGradientEqualsExplicitTraces) {
  for (InputScaling scaling :
       {InputScaling::kOne, InputScaling::kOneMinusAlpha}) {
    ConvFrontEndConfig config = SmallConfig(1);
    config.input_scaling = scaling;
    if (scaling == InputScaling::kOneMinusAlpha) config.init_gain = 20;
    const int batch = 3, steps = 30;
    auto front = ConvFrontEnd<double>::Create(config, batch, 21);
    ASSERT_TRUE(front.ok());
    Rng rng(8);
    const Recording run = Simulate(&*front, 10, steps, rng);
    auto grad = front->Gradient(run.dE_dy);
    ASSERT_TRUE(grad.ok()) << grad.status();
    const ConvGeometry& g = front->geometries()[0];
    const ConvLifConstants& c = front->constants();

    MatD explicit_traces = MatD::Zero(g.patch_size(), g.filters);
    for (int b = 0; b < batch; ++b) {
      const MatD L =
          SampleErrors(run, batch, b) * front->feedback(0).transpose();
      explicit_traces +=
          reference::ConvEpropGradient(g, c, run.frames[b], run.psi[0][b], L);
    }

    // The LSNN reference on the unfolded network.
    NetworkConfig dense;
    dense.n_in = g.in_size();
    dense.n_lif = g.out_size();
    dense.n_alif = 0;
    dense.n_out = config.n_out;
    dense.tau_m_ms = config.tau_m_ms;
    dense.v_th = config.v_th;
    dense.n_ref = config.n_ref;
    dense.gamma = config.gamma;
    dense.tau_out_ms = config.tau_out_ms;
    dense.input_scaling = scaling;
    Weights<double> w;
    w.w_in = reference::ConvToDense(g, front->weights(0));
    w.w_rec = MatD::Zero(g.out_size(), g.out_size());
    w.w_out = MatD::Zero(config.n_out, g.out_size());
    w.b_out = VecD::Zero(config.n_out);
    MatD dense_grad = MatD::Zero(g.out_size(), g.in_size());
    for (int b = 0; b < batch; ++b) {
      reference::SampleState initial =
          reference::SampleState::Zero(g.out_size());
      initial.v = run.v0[0][b];
      initial.r = run.r0[0][b];
      initial.z = run.z0[0][b];
      const reference::SampleTrajectory traj =
          reference::Forward(dense, w, run.frames[b], initial);
      ASSERT_EQ(traj.z, run.z[0][b]);
      dense_grad += reference::EpropGradient(dense, w, run.frames[b], traj,
                                             SampleErrors(run, batch, b),
                                             MatD::Zero(steps, g.out_size()),
                                             front->feedback(0))
                        .w_in;
    }
    // Fold: dW(p, f) = sum over positions of
    // dense(j(pos, f), i(pos, p)).
    MatD folded = MatD::Zero(g.patch_size(), g.filters);
    const MatD index =
        reference::ConvToDense(g, MatD::Ones(g.patch_size(),
                                             g.filters));  // connectivity mask
    for (int oy = 0; oy < g.out_h(); ++oy) {
      for (int ox = 0; ox < g.out_w(); ++ox) {
        for (int f = 0; f < g.filters; ++f) {
          const int j = (oy * g.out_w() + ox) * g.filters + f;
          for (int p = 0; p < g.patch_size(); ++p) {
            const int ky = p / (g.kernel * g.in_c);
            const int kx = (p / g.in_c) % g.kernel, ch = p % g.in_c;
            const int i =
                ((oy * g.stride + ky) * g.in_w + ox * g.stride + kx) * g.in_c +
                ch;
            ASSERT_EQ(index(j, i), 1.0);
            folded(p, f) += dense_grad(j, i);
          }
        }
      }
    }
    const double d1 = RelDiff((*grad)[0], explicit_traces);
    const double d2 = RelDiff(folded, explicit_traces);
    EXPECT_LT(d1, 1e-12);
    EXPECT_LT(d2, 1e-12);
    EXPECT_GT(explicit_traces.cwiseAbs().maxCoeff(), 1e-3);
    std::printf(
        "scaling %d: fast vs explicit %.3g, dense "
        "ref vs explicit %.3g\n",
        static_cast<int>(scaling), d1, d2);
  }
}

// Two layers: layer 1 gets layer 0's spikes as
// events. Its forward pass and its gradient match
// the reference with those spikes as dense inputs;
// a reset of one sample inside the unroll restarts
// its traces.
TEST(ConvFrontEndTest, TwoLayersWithResetEqualExplicitTraces) {
  const ConvFrontEndConfig config = SmallConfig(2);
  const int batch = 3, steps = 30, reset_step = 12, reset_sample = 1;
  auto front = ConvFrontEnd<double>::Create(config, batch, 31);
  ASSERT_TRUE(front.ok());
  // Excitatory kernels so that layer 1 fires a fair amount.
  ASSERT_TRUE(front->SetWeights(1, 2.0 * front->weights(1).cwiseAbs()).ok());
  Rng rng(9);
  const Recording run =
      Simulate(&*front, 7, steps, rng, reset_step, reset_sample);
  auto grad = front->Gradient(run.dE_dy);
  ASSERT_TRUE(grad.ok());
  const ConvLifConstants& c = front->constants();

  std::vector<MatD> expected;
  double spikes1 = 0;
  for (int l = 0; l < 2; ++l) {
    const ConvGeometry& g = front->geometries()[l];
    MatD sum = MatD::Zero(g.patch_size(), g.filters);
    for (int b = 0; b < batch; ++b) {
      const MatD& x = l == 0 ? run.frames[b] : run.z[0][b];
      const MatD L =
          SampleErrors(run, batch, b) * front->feedback(l).transpose();
      if (l == 1) {
        // Forward of layer 1 from its carried
        // state, in two segments around the reset.
        const int split = b == reset_sample ? reset_step : steps;
        const reference::ConvSampleTrajectory a =
            reference::ConvForward(g, c, front->weights(1), x.topRows(split),
                                   run.v0[1][b], run.r0[1][b], run.z0[1][b]);
        EXPECT_EQ(a.z, run.z[1][b].topRows(split));
        EXPECT_LT((a.v - run.v[1][b].topRows(split)).cwiseAbs().maxCoeff(),
                  1e-12);
        EXPECT_LT((a.psi - run.psi[1][b].topRows(split)).cwiseAbs().maxCoeff(),
                  1e-13);
        if (split < steps) {
          const reference::ConvSampleTrajectory rest = reference::ConvForward(
              g, c, front->weights(1), x.bottomRows(steps - split));
          EXPECT_EQ(rest.z, run.z[1][b].bottomRows(steps - split));
        }
        spikes1 += run.z[1][b].sum();
      }
      if (b == reset_sample) {
        const int n1 = steps - reset_step;
        sum += reference::ConvEpropGradient(g, c, x.topRows(reset_step),
                                            run.psi[l][b].topRows(reset_step),
                                            L.topRows(reset_step));
        sum += reference::ConvEpropGradient(g, c, x.bottomRows(n1),
                                            run.psi[l][b].bottomRows(n1),
                                            L.bottomRows(n1));
      } else {
        sum += reference::ConvEpropGradient(g, c, x, run.psi[l][b], L);
      }
    }
    expected.push_back(sum);
  }
  EXPECT_GT(spikes1, 0.05 * batch * steps * front->output_size());
  std::printf("layer 1 rate %.3f\n",
              spikes1 / (batch * steps * front->output_size()));
  const double d0 = RelDiff((*grad)[0], expected[0]);
  const double d1 = RelDiff((*grad)[1], expected[1]);
  EXPECT_LT(d0, 1e-12);
  EXPECT_LT(d1, 1e-12);
  std::printf("layer 0 %.3g, layer 1 %.3g\n", d0, d1);
}

// Output spikes as sparse rows equal the dense
// output; results do not depend on the thread
// count; float follows double.
TEST(ConvFrontEndTest, SparseOutputThreadsAndFloat) {
  ConvFrontEndConfig config = SmallConfig(2);
  const int batch = 20;  // more than one shard
  auto one = ConvFrontEnd<double>::Create(config, batch, 4);
  config.threads = 2;
  auto two = ConvFrontEnd<double>::Create(config, batch, 4);
  auto single = ConvFrontEnd<float>::Create(config, batch, 4);
  ASSERT_TRUE(one.ok() && two.ok() && single.ok());
  Rng rng(2);
  one->BeginUnroll();
  two->BeginUnroll();
  single->BeginUnroll();
  const int steps = 20;
  int64_t total = 0;
  bool same_spikes = true;
  for (int t = 0; t < steps; ++t) {
    if (t % 5 == 0) {
      const MatD frames = RandomMatrix(rng, batch, one->frame_size(), 0, 1);
      ASSERT_TRUE(one->SetFrames(frames).ok());
      ASSERT_TRUE(two->SetFrames(frames).ok());
      ASSERT_TRUE(single->SetFrames(frames.cast<float>()).ok());
    }
    if (t == 9) {
      one->ResetSample(3);
      two->ResetSample(3);
      single->ResetSample(3);
    }
    one->Step();
    two->Step();
    single->Step();
    EXPECT_EQ(one->output(), two->output());
    same_spikes =
        same_spikes && single->output().cast<double>() == one->output();
    const SparseRows<double>& sp = one->output_spikes();
    ASSERT_EQ(sp.rows(), batch);
    MatD dense = MatD::Zero(batch, one->output_size());
    for (int b = 0; b < batch; ++b) {
      for (int64_t k = sp.begin(b); k < sp.end(b); ++k)
        dense(b, sp.cols[k]) = 1;
    }
    EXPECT_EQ(dense, one->output());
    total += sp.nonzeros();
  }
  EXPECT_GT(total, 0);
  EXPECT_TRUE(same_spikes);
  const MatD dE_dy = RandomMatrix(rng, steps * batch, config.n_out, -1, 1);
  auto g1 = one->Gradient(dE_dy);
  auto g2 = two->Gradient(dE_dy);
  auto gf = single->Gradient(dE_dy.cast<float>());
  ASSERT_TRUE(g1.ok() && g2.ok() && gf.ok());
  for (int l = 0; l < 2; ++l) {
    EXPECT_EQ((*g1)[l], (*g2)[l]);
    // Float agrees with double unless rounding
    // flipped a spike.
    if (same_spikes) {
      EXPECT_LT(RelDiff((*gf)[l].cast<double>(), (*g1)[l]), 1e-4);
    }
  }
}

}  // namespace
}  // namespace eprop
