// Compressed rows of a mostly-zero [rows x cols] matrix: spikes and spiking
// inputs are propagated as events rather than dense products.
#ifndef EPROP_CORE_SIM_SPARSE_ROWS_H_
#define EPROP_CORE_SIM_SPARSE_ROWS_H_

#include <cstdint>
#include <vector>

#include "core/util/eigen_types.h"

namespace eprop {

// Row r holds entries offsets[r] .. offsets[r+1]-1 of cols (and of values,
// which is empty when every stored entry is 1, as for spikes).
template <typename S>
struct SparseRows {
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> cols;
  std::vector<S> values;

  int64_t rows() const { return static_cast<int64_t>(offsets.size()) - 1; }
  int64_t begin(int64_t row) const { return offsets[row]; }
  int64_t end(int64_t row) const { return offsets[row + 1]; }
  S value(int64_t k) const { return values.empty() ? S(1) : values[k]; }
  int64_t nonzeros() const { return static_cast<int64_t>(cols.size()); }
};

// The nonzero entries of a dense matrix, row by row.
template <typename S>
SparseRows<S> ToSparseRows(const Mat<S>& dense);

}  // namespace eprop

#endif  // EPROP_CORE_SIM_SPARSE_ROWS_H_
