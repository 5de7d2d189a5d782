#include "core/reference/conv_reference.h"

#include <algorithm>
#include <cmath>

namespace eprop {
namespace reference {
namespace {

// Calls synapse(j, f, p, i) for every synapse of the layer: output neuron j
// (position (oy, ox), filter f) and input i, with kernel weight row p, in
// the order j, then kernel row p.
template <typename Synapse>
void ForEachSynapse(const ConvGeometry& g, Synapse&& synapse) {
  for (int oy = 0; oy < g.out_h(); ++oy) {
    for (int ox = 0; ox < g.out_w(); ++ox) {
      for (int f = 0; f < g.filters; ++f) {
        const int j = (oy * g.out_w() + ox) * g.filters + f;
        for (int ky = 0; ky < g.kernel; ++ky) {
          for (int kx = 0; kx < g.kernel; ++kx) {
            for (int ch = 0; ch < g.in_c; ++ch) {
              const int p = (ky * g.kernel + kx) * g.in_c + ch;
              const int iy = oy * g.stride + ky, ix = ox * g.stride + kx;
              synapse(j, f, p, (iy * g.in_w + ix) * g.in_c + ch);
            }
          }
        }
      }
    }
  }
}

}  // namespace

ConvSampleTrajectory ConvForward(const ConvGeometry& g,
                                 const ConvLifConstants& c, const MatD& w,
                                 const MatD& x, const VecD& v0, const VecD& r0,
                                 const VecD& z0) {
  const int steps = static_cast<int>(x.rows());
  const int n = g.out_size();
  VecD v = v0.size() ? v0 : VecD::Zero(n);
  VecD r = r0.size() ? r0 : VecD::Zero(n);
  VecD z = z0.size() ? z0 : VecD::Zero(n);
  ConvSampleTrajectory out;
  out.v.resize(steps, n);
  out.r.resize(steps, n);
  out.z.resize(steps, n);
  out.psi.resize(steps, n);
  for (int t = 0; t < steps; ++t) {
    VecD current = VecD::Zero(n);
    ForEachSynapse(g, [&](int j, int f, int p, int i) {
      current(j) += w(p, f) * x(t, i);
    });
    for (int j = 0; j < n; ++j) {
      const bool refractory = r(j) > 0;
      v(j) = c.alpha * v(j) + c.c_in * current(j) - c.v_th * z(j);
      const double u = (v(j) - c.v_th) / c.v_th;
      z(j) = (!refractory && u > 0) ? 1.0 : 0.0;
      const double psi =
          refractory ? 0.0
                     : c.gamma / c.v_th * std::max(0.0, 1.0 - std::abs(u));
      r(j) = std::clamp(r(j) + c.n_ref * z(j) - 1.0, 0.0,
                        static_cast<double>(c.n_ref));
      out.v(t, j) = v(j);
      out.r(t, j) = r(j);
      out.z(t, j) = z(j);
      out.psi(t, j) = psi;
    }
  }
  return out;
}

MatD ConvEpropGradient(const ConvGeometry& g, const ConvLifConstants& c,
                       const MatD& x, const MatD& psi, const MatD& L) {
  const int steps = static_cast<int>(x.rows());
  MatD grad = MatD::Zero(g.patch_size(), g.filters);
  ForEachSynapse(g, [&](int j, int f, int p, int i) {
    double zbar = 0, ebar = 0;
    for (int t = 0; t < steps; ++t) {
      zbar = c.alpha * zbar + c.c_in * x(t, i);
      const double e = psi(t, j) * zbar;
      ebar = c.kappa * ebar + (1 - c.kappa) * e;
      grad(p, f) += L(t, j) * ebar;
    }
  });
  return grad;
}

MatD ConvToDense(const ConvGeometry& g, const MatD& w) {
  MatD dense = MatD::Zero(g.out_size(), g.in_size());
  ForEachSynapse(g, [&](int j, int f, int p, int i) { dense(j, i) = w(p, f); });
  return dense;
}

}  // namespace reference
}  // namespace eprop
