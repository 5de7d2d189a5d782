#include "server/session_inputs.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace eprop::server {
namespace {

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

absl::Status CheckFinite(const v1::DenseInputs& values, const char* what) {
  for (int k = 0; k < values.values_size(); ++k) {
    if (!std::isfinite(values.values(k))) {
      return Invalid(absl::StrCat(what, " value ", k, " is not finite"));
    }
  }
  return absl::OkStatus();
}

// Builds sparse rows from entries k = row * n_in + input that arrive in
// increasing order (packed bits and dense values are row-major), so no
// sorting is needed.
class RowMajorRows {
 public:
  RowMajorRows(int64_t rows, int n_in) : n_in_(n_in) {
    out_.offsets.assign(rows + 1, 0);
  }
  void Add(int64_t k) {
    ++out_.offsets[k / n_in_ + 1];
    out_.cols.push_back(static_cast<int32_t>(k % n_in_));
  }
  void Add(int64_t k, float value) {
    Add(k);
    out_.values.push_back(value);
  }
  SparseRows<float> Take() {
    for (size_t r = 1; r < out_.offsets.size(); ++r) {
      out_.offsets[r] += out_.offsets[r - 1];
    }
    return std::move(out_);
  }

 private:
  const int n_in_;
  SparseRows<float> out_;
};

SparseRows<float> DecodePacked(const std::string& bits, int64_t rows,
                               int n_in) {
  RowMajorRows out(rows, n_in);
  const int64_t count = rows * n_in;
  for (int64_t byte = 0; byte * 8 < count; ++byte) {
    unsigned set = static_cast<unsigned char>(bits[byte]);
    while (set != 0) {  // the set bits, lowest first
      const int64_t k = byte * 8 + __builtin_ctz(set);
      set &= set - 1;
      if (k < count) out.Add(k);
    }
  }
  return out.Take();
}

SparseRows<float> DecodeDense(const v1::DenseInputs& dense, int64_t rows,
                              int n_in) {
  RowMajorRows out(rows, n_in);
  for (int64_t k = 0; k < rows * n_in; ++k) {
    const float v = dense.values(static_cast<int>(k));
    if (v != 0.0f) out.Add(k, v);
  }
  return out.Take();
}

// Events in any order: a stable counting sort by row.
SparseRows<float> DecodeEvents(const v1::SparseEvents& events, int64_t rows) {
  SparseRows<float> out;
  out.offsets.assign(rows + 1, 0);
  for (const int32_t r : events.rows()) ++out.offsets[r + 1];
  for (int64_t r = 0; r < rows; ++r) out.offsets[r + 1] += out.offsets[r];
  out.cols.resize(events.rows_size());
  std::vector<int64_t> next(out.offsets.begin(), out.offsets.end() - 1);
  for (int k = 0; k < events.rows_size(); ++k) {
    out.cols[next[events.rows(k)]++] = events.inputs(k);
  }
  return out;
}

}  // namespace

absl::Status CheckDenseSize(const v1::DenseInputs& values, int64_t expected,
                            const char* what) {
  if (values.values_size() != expected) {
    return Invalid(absl::StrCat(what, " must have steps x batch_size x ",
                                "width = ", expected, " values, got ",
                                values.values_size()));
  }
  return CheckFinite(values, what);
}

absl::Status CheckInputs(const v1::SpikeInputs& inputs, int64_t rows,
                         int n_in) {
  switch (inputs.encoding_case()) {
    case v1::SpikeInputs::kPacked: {
      const int64_t bytes = (rows * n_in + 7) / 8;
      if (static_cast<int64_t>(inputs.packed().size()) != bytes) {
        return Invalid(absl::StrCat(
            "inputs.packed must have ceil(steps x batch_size x n_in / 8) = ",
            bytes, " bytes, got ", inputs.packed().size()));
      }
      return absl::OkStatus();
    }
    case v1::SpikeInputs::kEvents: {
      const v1::SparseEvents& e = inputs.events();
      if (e.rows_size() != e.inputs_size()) {
        return Invalid(
            "inputs.events.rows and inputs.events.inputs must "
            "have the same length");
      }
      for (int k = 0; k < e.rows_size(); ++k) {
        if (e.rows(k) < 0 || e.rows(k) >= rows) {
          return Invalid(absl::StrCat("inputs.events.rows[", k,
                                      "] = ", e.rows(k), " is outside [0, ",
                                      rows, ") (steps x batch_size)"));
        }
        if (e.inputs(k) < 0 || e.inputs(k) >= n_in) {
          return Invalid(absl::StrCat("inputs.events.inputs[", k,
                                      "] = ", e.inputs(k), " is outside [0, ",
                                      n_in, ") (n_in)"));
        }
      }
      return absl::OkStatus();
    }
    case v1::SpikeInputs::kDense:
      return CheckDenseSize(inputs.dense(), rows * n_in, "inputs.dense");
    default:
      return absl::OkStatus();  // no input spikes this chunk
  }
}

SparseRows<float> DecodeInputs(const v1::SpikeInputs& inputs, int64_t rows,
                               int n_in) {
  switch (inputs.encoding_case()) {
    case v1::SpikeInputs::kPacked:
      return DecodePacked(inputs.packed(), rows, n_in);
    case v1::SpikeInputs::kEvents:
      return DecodeEvents(inputs.events(), rows);
    case v1::SpikeInputs::kDense:
      return DecodeDense(inputs.dense(), rows, n_in);
    default: {  // no input spikes
      SparseRows<float> none;
      none.offsets.assign(rows + 1, 0);
      return none;
    }
  }
}

}  // namespace eprop::server
