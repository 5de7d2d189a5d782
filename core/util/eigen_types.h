// Eigen aliases used throughout the core. One storage order everywhere:
// row-major, so that a [T*B x N] trajectory keeps each time step's
// [B x N] block contiguous (row index = t * batch + b).
#ifndef EPROP_CORE_UTIL_EIGEN_TYPES_H_
#define EPROP_CORE_UTIL_EIGEN_TYPES_H_

#include <Eigen/Core>

namespace eprop {

template <typename S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <typename S>
using RowVec = Eigen::Matrix<S, 1, Eigen::Dynamic>;

using MatD = Mat<double>;
using MatF = Mat<float>;
using VecD = Vec<double>;

}  // namespace eprop

#endif  // EPROP_CORE_UTIL_EIGEN_TYPES_H_
