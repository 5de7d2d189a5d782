#include "core/util/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace eprop {

void ParallelFor(int n, int max_threads, absl::FunctionRef<void(int)> fn) {
  const int threads = std::max(1, std::min(n, max_threads));
  if (threads == 1) {
    FlushDenormalsScope flush;
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int> next{0};
  auto worker = [&] {
    FlushDenormalsScope flush;
    for (int i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

#if defined(__SSE__)
FlushDenormalsScope::FlushDenormalsScope() : saved_csr_(_mm_getcsr()) {
  constexpr unsigned int kFlushToZero = 0x8000;
  constexpr unsigned int kDenormalsAreZero = 0x0040;
  _mm_setcsr(saved_csr_ | kFlushToZero | kDenormalsAreZero);
}
FlushDenormalsScope::~FlushDenormalsScope() { _mm_setcsr(saved_csr_); }
#else
FlushDenormalsScope::FlushDenormalsScope() {}
FlushDenormalsScope::~FlushDenormalsScope() {}
#endif

}  // namespace eprop
