// The core's only threading: run independent batch shards on a few threads.
#ifndef EPROP_CORE_UTIL_PARALLEL_H_
#define EPROP_CORE_UTIL_PARALLEL_H_

#include "absl/functional/function_ref.h"

namespace eprop {

// Calls fn(i) for i in [0, n) on up to max_threads threads (the caller's
// thread included) and returns when all calls have finished. Each index runs
// exactly once; fn must be safe to call concurrently for different indices.
void ParallelFor(int n, int max_threads, absl::FunctionRef<void(int)> fn);

// Sets flush-to-zero and denormals-are-zero on this thread for the scope's
// lifetime. Decaying traces (kappa^t) reach the denormal range in float,
// where x86 arithmetic is ~100x slower; flushing them changes results by
// less than 1e-37.
class FlushDenormalsScope {
 public:
  FlushDenormalsScope();
  ~FlushDenormalsScope();
  FlushDenormalsScope(const FlushDenormalsScope&) = delete;
  FlushDenormalsScope& operator=(const FlushDenormalsScope&) = delete;

 private:
  unsigned int saved_csr_ = 0;
};

}  // namespace eprop

#endif  // EPROP_CORE_UTIL_PARALLEL_H_
