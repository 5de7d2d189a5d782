// Session input decoding: the three encodings of the same spikes decode to
// the same rows, which match a direct reading of the spikes.
#include "server/session_inputs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace eprop::server {
namespace {

struct Spikes {
  int64_t rows;
  int n_in;
  std::vector<uint8_t> dense;  // [rows x n_in]
};

Spikes RandomSpikes(int64_t rows, int n_in, double density, uint32_t seed) {
  std::mt19937 gen(seed);
  std::bernoulli_distribution spike(density);
  Spikes s{rows, n_in, std::vector<uint8_t>(rows * n_in)};
  for (uint8_t& v : s.dense) v = spike(gen);
  return s;
}

v1::SpikeInputs Packed(const Spikes& s, bool set_padding) {
  std::string bytes((s.dense.size() + 7) / 8, '\0');
  for (size_t k = 0; k < s.dense.size(); ++k) {
    if (s.dense[k]) bytes[k / 8] = static_cast<char>(bytes[k / 8] | 1 << k % 8);
  }
  // Bits past rows x n_in in the last byte carry no spike.
  if (set_padding && s.dense.size() % 8 != 0) {
    bytes.back() = static_cast<char>(bytes.back() | 0x80);
  }
  v1::SpikeInputs inputs;
  inputs.set_packed(bytes);
  return inputs;
}

v1::SpikeInputs Dense(const Spikes& s) {
  v1::SpikeInputs inputs;
  for (const uint8_t v : s.dense) inputs.mutable_dense()->add_values(v);
  return inputs;
}

// Events listed in reverse, so decoding must sort them by row.
v1::SpikeInputs Events(const Spikes& s) {
  v1::SpikeInputs inputs;
  for (int64_t k = static_cast<int64_t>(s.dense.size()) - 1; k >= 0; --k) {
    if (!s.dense[k]) continue;
    inputs.mutable_events()->add_rows(static_cast<int32_t>(k / s.n_in));
    inputs.mutable_events()->add_inputs(static_cast<int32_t>(k % s.n_in));
  }
  return inputs;
}

void ExpectRows(const SparseRows<float>& rows, const Spikes& s,
                bool reversed_within_row) {
  ASSERT_EQ(rows.rows(), s.rows);
  for (int64_t r = 0; r < s.rows; ++r) {
    std::vector<int32_t> expected;
    for (int i = 0; i < s.n_in; ++i) {
      if (s.dense[r * s.n_in + i]) expected.push_back(i);
    }
    if (reversed_within_row) std::reverse(expected.begin(), expected.end());
    const std::vector<int32_t> got(rows.cols.begin() + rows.begin(r),
                                   rows.cols.begin() + rows.end(r));
    EXPECT_EQ(got, expected) << "row " << r;
    for (int64_t k = rows.begin(r); k < rows.end(r); ++k) {
      EXPECT_EQ(rows.value(k), 1.0f);
    }
  }
}

TEST(SessionInputsTest, EncodingsDecodeToTheSameRows) {
  for (const auto& [rows, n_in, density] :
       std::vector<std::tuple<int64_t, int, double>>{
           {1, 1, 0.5}, {7, 3, 0.3}, {100, 40, 0.02}, {33, 13, 0.9}}) {
    const Spikes s = RandomSpikes(rows, n_in, density, 5);
    for (const bool padding : {false, true}) {
      const v1::SpikeInputs packed = Packed(s, padding);
      ASSERT_TRUE(CheckInputs(packed, rows, n_in).ok());
      ExpectRows(DecodeInputs(packed, rows, n_in), s, false);
    }
    ASSERT_TRUE(CheckInputs(Dense(s), rows, n_in).ok());
    ExpectRows(DecodeInputs(Dense(s), rows, n_in), s, false);
    ASSERT_TRUE(CheckInputs(Events(s), rows, n_in).ok());
    ExpectRows(DecodeInputs(Events(s), rows, n_in), s, true);
  }
}

TEST(SessionInputsTest, DenseKeepsValuesAndNoInputsMeansEmptyRows) {
  v1::SpikeInputs dense;
  for (const float v : {0.0f, 2.5f, 0.0f, -1.0f}) {
    dense.mutable_dense()->add_values(v);
  }
  const SparseRows<float> rows = DecodeInputs(dense, 2, 2);
  EXPECT_EQ(rows.offsets, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(rows.cols, (std::vector<int32_t>{1, 1}));
  EXPECT_EQ(rows.values, (std::vector<float>{2.5f, -1.0f}));
  const SparseRows<float> none = DecodeInputs(v1::SpikeInputs(), 3, 4);
  EXPECT_EQ(none.rows(), 3);
  EXPECT_EQ(none.nonzeros(), 0);
}

TEST(SessionInputsTest, RejectsWhatCannotBeDecoded) {
  const Spikes s = RandomSpikes(4, 5, 0.5, 1);
  v1::SpikeInputs short_packed = Packed(s, false);
  short_packed.mutable_packed()->pop_back();
  EXPECT_EQ(CheckInputs(short_packed, 4, 5).code(),
            absl::StatusCode::kInvalidArgument);
  v1::SpikeInputs events;
  events.mutable_events()->add_rows(4);  // rows are [0, 4)
  events.mutable_events()->add_inputs(0);
  EXPECT_EQ(CheckInputs(events, 4, 5).code(),
            absl::StatusCode::kInvalidArgument);
  v1::SpikeInputs nan = Dense(s);
  nan.mutable_dense()->set_values(3, std::nanf(""));
  EXPECT_EQ(CheckInputs(nan, 4, 5).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace eprop::server
