#include <cstdint>
#include <cstdio>

#include "dprof/stackdepot/depot.h"

int main() {
  using namespace dprof::stackdepot;
  auto depot = Depot::Create({});
  if (!depot.ok()) return 1;
  const uint64_t a[] = {0x401000, 0x401100, 0x401200};
  const uint64_t b[] = {0x401000, 0x401100};
  const Handle ha = (*depot)->Save(a, kCanAlloc);
  const Handle hb = (*depot)->Save(b, kCanAlloc);
  if (ha == kNoHandle || hb == kNoHandle || ha == hb) return 1;
  if ((*depot)->Save(a, kCanAlloc) != ha || (*depot)->Fetch(ha).size() != 3) return 1;
  std::printf("consumer: %llu records, handle stable\n",
              static_cast<unsigned long long>((*depot)->Stats()[Stat::kRecordsInUse]));
  return 0;
}
