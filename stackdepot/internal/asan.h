// AddressSanitizer poisoning of depot memory that no one may read: pool space not yet handed out,
// and the frames of records freed and past their grace period. Without it ASan could not see a
// use after Put(), because pools are never returned to malloc. No-ops in other builds.
//
// Mapped pool memory is always readable in other builds, so Resolve() may read any header-sized
// slot of a mapped pool to validate a handle; under ASan it asks AsanIsPoisoned() first.
#ifndef DPROF_STACKDEPOT_INTERNAL_ASAN_H_
#define DPROF_STACKDEPOT_INTERNAL_ASAN_H_

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define DPROF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DPROF_ASAN 1
#endif
#endif

#ifdef DPROF_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace dprof::stackdepot::internal {

inline void AsanPoison([[maybe_unused]] const void* p, [[maybe_unused]] size_t n) {
#ifdef DPROF_ASAN
  __asan_poison_memory_region(p, n);
#endif
}

inline void AsanUnpoison([[maybe_unused]] const void* p, [[maybe_unused]] size_t n) {
#ifdef DPROF_ASAN
  __asan_unpoison_memory_region(p, n);
#endif
}

// True when any byte of [p, p + n) is poisoned. Always false in other builds, where nothing is.
inline bool AsanIsPoisoned([[maybe_unused]] const void* p, [[maybe_unused]] size_t n) {
#ifdef DPROF_ASAN
  return __asan_region_is_poisoned(const_cast<void*>(p), n) != nullptr;
#else
  return false;
#endif
}

}  // namespace dprof::stackdepot::internal

#endif  // DPROF_STACKDEPOT_INTERNAL_ASAN_H_
