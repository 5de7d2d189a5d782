#include "core/sim/simulate.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

// Loads rows shard.begin .. shard.end-1 of `initial` into the zero state
// `state` of the shard's networks.
template <typename S>
void LoadState(const NetworkModel<S>& model, const CarriedState<S>& initial,
               const Shard& shard, NetworkState<S>* state) {
  const int rows = shard.size();
  state->v = initial.v.middleRows(shard.begin, rows);
  state->a = initial.a.middleRows(shard.begin, rows);
  state->refractory = initial.refractory.middleRows(shard.begin, rows);
  state->z = initial.z.middleRows(shard.begin, rows);
  // A = v_th + beta a, as Step leaves it.
  state->threshold =
      (state->a.array().rowwise() * model.beta.transpose().array()) +
      model.v_th;
  // The recurrent input of the first step is driven by the spike list.
  const int n = model.n_rec;
  state->spikes.clear();
  for (int b = 0; b < rows; ++b) {
    for (int j = 0; j < n; ++j) {
      if (state->z(b, j) != S(0)) state->spikes.push_back(b * n + j);
    }
  }
  // readout_filtered holds W_out zf = zf (rec_to_out / (1 - kappa)).
  state->readout_filtered.noalias() =
      initial.zf.middleRows(shard.begin, rows) * model.rec_to_out;
  state->readout_filtered /= S(1) - model.kappa;
}

template <typename S>
void SimulateShard(const NetworkModel<S>& model, const SparseRows<S>& inputs,
                   const SimulateOptions& options, const Shard& shard,
                   const CarriedState<S>* initial, Trajectory<S>* traj,
                   SparseRows<S>* spikes, CarriedState<S>* final_state) {
  const int n = model.n_rec;
  const int batch = traj->batch;
  NetworkState<S> state;
  state.Reset(model, shard.size());
  if (initial != nullptr) LoadState(model, *initial, shard, &state);
  // zf is tracked only for the final state (y needs just W_out zf).
  Mat<S> zf;
  if (final_state != nullptr) {
    zf = initial != nullptr
             ? Mat<S>(initial->zf.middleRows(shard.begin, shard.size()))
             : Mat<S>::Zero(shard.size(), n);
  }
  spikes->offsets.assign(1, 0);
  spikes->cols.clear();
  spikes->offsets.reserve(static_cast<size_t>(traj->steps) * shard.size() + 1);
  for (int t = 0; t < traj->steps; ++t) {
    const int64_t row = static_cast<int64_t>(t) * batch + shard.begin;
    Step(model, inputs, row, &state);
    if (final_state != nullptr) {
      zf = model.kappa * zf + (S(1) - model.kappa) * state.z;
    }
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
  if (final_state != nullptr) {
    final_state->v.middleRows(shard.begin, shard.size()) = state.v;
    final_state->a.middleRows(shard.begin, shard.size()) = state.a;
    final_state->refractory.middleRows(shard.begin, shard.size()) =
        state.refractory;
    final_state->z.middleRows(shard.begin, shard.size()) = state.z;
    final_state->zf.middleRows(shard.begin, shard.size()) = zf;
  }
#if defined(__SSE__)
  _mm_sfence();  // make the streamed stores visible to other threads
#endif
}

// Aborts unless m is [rows x cols]: a wrong initial state would otherwise be
// read out of range.
template <typename S>
void RequireStateShape(const Mat<S>& m, int rows, int cols, const char* name) {
  if (m.rows() != rows || m.cols() != cols) {
    std::fprintf(stderr,
                 "eprop::SimulateFrom: initial %s is [%td x %td], expected "
                 "[%d x %d]\n",
                 name, static_cast<std::ptrdiff_t>(m.rows()),
                 static_cast<std::ptrdiff_t>(m.cols()), rows, cols);
    std::abort();
  }
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
CarriedState<S> CarriedState<S>::Zero(int n_rec, int batch) {
  CarriedState s;
  for (Mat<S>* m : {&s.v, &s.a, &s.refractory, &s.z, &s.zf}) {
    m->setZero(batch, n_rec);
  }
  return s;
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
        for (int64_t k = spikes[s].begin(local); k < spikes[s].end(local);
             ++k) {
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
  SimulateFrom<S>(model, inputs, steps, batch, options, nullptr, traj, nullptr);
}

template <typename S>
void SimulateFrom(const NetworkModel<S>& model, const SparseRows<S>& inputs,
                  int steps, int batch, const SimulateOptions& options,
                  const CarriedState<S>* initial, Trajectory<S>* traj,
                  CarriedState<S>* final_state) {
  // Carrying a state in place (initial == final_state) is allowed.
  CarriedState<S> initial_copy;
  if (initial != nullptr && initial == final_state) {
    initial_copy = *initial;
    initial = &initial_copy;
  }
  if (initial != nullptr) {
    RequireStateShape(initial->v, batch, model.n_rec, "v");
    RequireStateShape(initial->a, batch, model.n_rec, "a");
    RequireStateShape(initial->refractory, batch, model.n_rec, "refractory");
    RequireStateShape(initial->z, batch, model.n_rec, "z");
    RequireStateShape(initial->zf, batch, model.n_rec, "zf");
    traj->initial_z = initial->z;
    traj->initial_zf = initial->zf;
  } else {
    traj->initial_z.resize(0, 0);
    traj->initial_zf.resize(0, 0);
  }
  if (final_state != nullptr) {
    *final_state = CarriedState<S>::Zero(model.n_rec, batch);
  }
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
                SimulateShard(model, inputs, options, traj->shards[s], initial,
                              traj, &traj->spikes[s], final_state);
              });
}

template struct CarriedState<float>;
template struct CarriedState<double>;
template struct Trajectory<float>;
template struct Trajectory<double>;
template void Simulate(const NetworkModel<float>&, const SparseRows<float>&,
                       int, int, const SimulateOptions&, Trajectory<float>*);
template void Simulate(const NetworkModel<double>&, const SparseRows<double>&,
                       int, int, const SimulateOptions&, Trajectory<double>*);
template void SimulateFrom(const NetworkModel<float>&, const SparseRows<float>&,
                           int, int, const SimulateOptions&,
                           const CarriedState<float>*, Trajectory<float>*,
                           CarriedState<float>*);
template void SimulateFrom(const NetworkModel<double>&,
                           const SparseRows<double>&, int, int,
                           const SimulateOptions&, const CarriedState<double>*,
                           Trajectory<double>*, CarriedState<double>*);

}  // namespace eprop
