#include "core/sim/sparse_rows.h"

namespace eprop {

template <typename S>
SparseRows<S> ToSparseRows(const Mat<S>& dense) {
  SparseRows<S> sparse;
  sparse.offsets.reserve(dense.rows() + 1);
  for (Eigen::Index r = 0; r < dense.rows(); ++r) {
    for (Eigen::Index c = 0; c < dense.cols(); ++c) {
      const S value = dense(r, c);
      if (value != S(0)) {
        sparse.cols.push_back(static_cast<int32_t>(c));
        sparse.values.push_back(value);
      }
    }
    sparse.offsets.push_back(static_cast<int64_t>(sparse.cols.size()));
  }
  return sparse;
}

template SparseRows<float> ToSparseRows(const Mat<float>&);
template SparseRows<double> ToSparseRows(const Mat<double>&);

}  // namespace eprop
