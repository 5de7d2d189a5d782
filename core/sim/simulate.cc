#include "core/sim/simulate.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "core/util/parallel.h"

namespace eprop {
namespace {

// Large enough to amortise per-step overheads, small enough that the
// reference batch of 64 splits across two cores.
constexpr int kShardSize = 32;

// Copies count values to dst with non-temporal stores where the platform
// has them: the trajectory is far larger than the caches and is read back
// only by the backward pass, so reading its lines into cache before writing
// them (as plain stores do) would double the memory traffic.
void StreamStore(const float* src, float* dst, int64_t count) {
#if defined(__SSE__)
  if (reinterpret_cast<uintptr_t>(dst) % 16 == 0 && count % 4 == 0) {
    for (int64_t k = 0; k < count; k += 4) {
      _mm_stream_ps(dst + k, _mm_loadu_ps(src + k));
    }
    return;
  }
#endif
  std::memcpy(dst, src, count * sizeof(float));
}

void StreamStore(const double* src, double* dst, int64_t count) {
  std::memcpy(dst, src, count * sizeof(double));
}

template <typename S>
void SimulateShard(const NetworkModel<S>& model, const SparseRows<S>& inputs,
                   const SimulateOptions& options, const Shard& shard,
                   Trajectory<S>* traj, SparseRows<S>* spikes) {
  const int n = model.n_rec;
  const int batch = traj->batch;
  NetworkState<S> state;
  state.Reset(model, shard.size());
  spikes->offsets.assign(1, 0);
  spikes->cols.clear();
  spikes->offsets.reserve(static_cast<size_t>(traj->steps) * shard.size() + 1);
  for (int t = 0; t < traj->steps; ++t) {
    const int64_t row = static_cast<int64_t>(t) * batch + shard.begin;
    Step(model, inputs, row, &state);
    StreamStore(state.psi.data(), traj->psi.row(row).data(), state.psi.size());
    traj->y.middleRows(row, shard.size()) =
        state.readout_filtered.rowwise() + model.b_out.transpose();
    if (options.record_state) {
      traj->v.middleRows(row, shard.size()) = state.v;
      traj->threshold.middleRows(row, shard.size()) = state.threshold;
    }
    // Spikes arrive sorted by local sample, so the local rows fill in order.
    size_t k = 0;
    for (int b = 0; b < shard.size(); ++b) {
      while (k < state.spikes.size() && state.spikes[k] / n == b) {
        spikes->cols.push_back(state.spikes[k] % n);
        ++k;
      }
      spikes->offsets.push_back(static_cast<int64_t>(spikes->cols.size()));
    }
  }
#if defined(__SSE__)
  _mm_sfence();  // make the streamed stores visible to other threads
#endif
}

}  // namespace

std::vector<Shard> MakeShards(int batch) {
  std::vector<Shard> shards;
  for (int begin = 0; begin < batch; begin += kShardSize) {
    shards.push_back({begin, std::min(batch, begin + kShardSize)});
  }
  return shards;
}

template <typename S>
VecD Trajectory<S>::SpikeCountPerNeuron() const {
  VecD counts = VecD::Zero(n_rec);
  for (const SparseRows<S>& shard_spikes : spikes) {
    for (int32_t j : shard_spikes.cols) counts[j] += 1.0;
  }
  return counts;
}

template <typename S>
Mat<S> Trajectory<S>::DenseSpikes() const {
  Mat<S> z = Mat<S>::Zero(static_cast<int64_t>(steps) * batch, n_rec);
  for (size_t s = 0; s < shards.size(); ++s) {
    const Shard& shard = shards[s];
    for (int t = 0; t < steps; ++t) {
      for (int b = 0; b < shard.size(); ++b) {
        const int64_t local = static_cast<int64_t>(t) * shard.size() + b;
        const int64_t row = static_cast<int64_t>(t) * batch + shard.begin + b;
        for (int64_t k = spikes[s].begin(local); k < spikes[s].end(local); ++k) {
          z(row, spikes[s].cols[k]) = S(1);
        }
      }
    }
  }
  return z;
}

template <typename S>
void Simulate(const NetworkModel<S>& model, const SparseRows<S>& inputs,
              int steps, int batch, const SimulateOptions& options,
              Trajectory<S>* traj) {
  traj->steps = steps;
  traj->batch = batch;
  traj->n_rec = model.n_rec;
  traj->shards = MakeShards(batch);
  const int64_t rows = static_cast<int64_t>(steps) * batch;
  traj->psi.resize(rows, model.n_rec);
  traj->y.resize(rows, model.n_out);
  if (options.record_state) {
    traj->v.resize(rows, model.n_rec);
    traj->threshold.resize(rows, model.n_rec);
  } else {
    traj->v.resize(0, 0);
    traj->threshold.resize(0, 0);
  }
  traj->spikes.resize(traj->shards.size());
  ParallelFor(static_cast<int>(traj->shards.size()), options.threads,
              [&](int s) {
                SimulateShard(model, inputs, options, traj->shards[s], traj,
                              &traj->spikes[s]);
              });
}

template struct Trajectory<float>;
template struct Trajectory<double>;
template void Simulate(const NetworkModel<float>&, const SparseRows<float>&,
                       int, int, const SimulateOptions&, Trajectory<float>*);
template void Simulate(const NetworkModel<double>&, const SparseRows<double>&,
                       int, int, const SimulateOptions&, Trajectory<double>*);

}  // namespace eprop
