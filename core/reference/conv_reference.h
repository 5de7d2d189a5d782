// Scalar double-precision reference of one LIF convolutional layer
// (core/sim/conv_lif.h) for one sample: the forward pass and its e-prop
// gradient with explicit per-synapse eligibility traces, written as plain
// loops over output positions, filters and kernel offsets. It is the
// yardstick the fast conv front end is tested against.
#ifndef EPROP_CORE_REFERENCE_CONV_REFERENCE_H_
#define EPROP_CORE_REFERENCE_CONV_REFERENCE_H_

#include "core/sim/conv_lif.h"
#include "core/util/eigen_types.h"

namespace eprop {
namespace reference {

// Scalar double-precision reference of one LIF conv layer for one sample,
// written as explicit loops over output positions, filters and kernel
// offsets (the yardstick of the fast path above).
struct ConvSampleTrajectory {
  MatD v, r, z, psi;  // [T x out_size]
};

// Forward pass over x [T x in_size] (one row per step) from the state
// (v0, r0, z0) (each [out_size], or empty for zero).
ConvSampleTrajectory ConvForward(const ConvGeometry& g,
                                 const ConvLifConstants& c, const MatD& w,
                                 const MatD& x, const VecD& v0 = VecD(),
                                 const VecD& r0 = VecD(),
                                 const VecD& z0 = VecD());

// sum_t L_j(t) ebar_ji(t), summed over the positions sharing each kernel
// weight, with zbar, e and ebar computed forward in time per synapse (output
// neuron and kernel offset), traces starting at zero. x [T x in_size],
// psi and L [T x out_size]; returns [patch x filters].
MatD ConvEpropGradient(const ConvGeometry& g, const ConvLifConstants& c,
                       const MatD& x, const MatD& psi, const MatD& L);

// The layer as an equivalent dense matrix [out_size x in_size].
MatD ConvToDense(const ConvGeometry& g, const MatD& w);

}  // namespace reference
}  // namespace eprop

#endif  // EPROP_CORE_REFERENCE_CONV_REFERENCE_H_
