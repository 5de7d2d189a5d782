// A session chunk's input spikes (networks.proto, SpikeInputs): checks and
// decoding into the rows the network step reads. Rows are [steps x batch]:
// row r is step r / batch, sample r % batch.
#ifndef EPROP_SERVER_SESSION_INPUTS_H_
#define EPROP_SERVER_SESSION_INPUTS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "core/sim/sparse_rows.h"
#include "eprop/v1/networks.pb.h"

namespace eprop::server {

// INVALID_ARGUMENT unless `values` has exactly `expected` finite values;
// the message names the field `what`.
absl::Status CheckDenseSize(const v1::DenseInputs& values, int64_t expected,
                            const char* what);

// INVALID_ARGUMENT unless `inputs` fits `rows` rows of `n_in` inputs: the
// packed size, event rows and inputs in range, dense size and finiteness.
// No encoding set is valid (no input spikes).
absl::Status CheckInputs(const v1::SpikeInputs& inputs, int64_t rows,
                         int n_in);

// The inputs, which CheckInputs accepted, as sparse rows (events keep their
// order within a row; dense zeros are dropped; packed padding bits are
// ignored).
SparseRows<float> DecodeInputs(const v1::SpikeInputs& inputs, int64_t rows,
                               int n_in);

}  // namespace eprop::server

#endif  // EPROP_SERVER_SESSION_INPUTS_H_
