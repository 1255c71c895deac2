// EventSites: the few events that stand for all of a recording's when naming their frames.
#include "profile/internal/event_sites.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "dprof/profile/symbolizer.h"
#include "gtest/gtest.h"
#include "tests/profile/recording_testing.h"

namespace dprof::profile::internal {
namespace {

constexpr uint64_t kLib = 0x7f5500000000;  // where a.so, then b.so, is mapped in process 100

// testing::MakeRecording's events, whose user stack 3 also passes through kLib + 0x100, where
// process 100 maps a.so early on and b.so over it at `reload_ns`.
Recording WithALibraryReloaded(int events, uint64_t reload_ns) {
  Recording r = testing::MakeRecording(events);
  r.stacks[3].push_back(kLib + 0x100);
  r.mappings.push_back(
      {.pid = 100, .time_ns = 5, .start = kLib, .end = kLib + 0x1000, .prot = 5, .path = "/a.so"});
  r.mappings.push_back({.pid = 100,
                        .time_ns = reload_ns,
                        .start = kLib,
                        .end = kLib + 0x1000,
                        .prot = 5,
                        .path = "/b.so"});
  return r;
}

// Every address named from all events is named alike from the representatives.
void ExpectNamedAlike(const Recording& all, const Recording& sites) {
  auto same = [&](const SymbolLookups& from_all, const SymbolLookups& from_sites) {
    for (const auto& [site, index] : from_all) {
      auto it = from_sites.find(site);
      ASSERT_NE(it, from_sites.end()) << site.first << ", 0x" << std::hex << site.second;
      EXPECT_EQ(all.symbols[index], sites.symbols[it->second]);
    }
  };
  same(all.symbol_of, sites.symbol_of);
  same(all.mapped_symbol_of, sites.mapped_symbol_of);
}

TEST(EventSitesTest, AFewEventsNameWhatAllOfThemWould) {
  // Events from 1 s to 1.2 s; b.so replaces a.so halfway.
  Recording all = WithALibraryReloaded(200, 1'100'000'000);
  Recording sites = all;
  EventSites event_sites;
  event_sites.Add(all.events, all.user_stacks);
  sites.events = event_sites.Representatives(sites);
  // 200 events over a handful of stacks; those whose cookie's stack never came stand each for
  // itself.
  EXPECT_LT(sites.events.size() - event_sites.waiting(), 15u);

  Symbolizer symbolizer({});
  SymbolizeRecording(all, symbolizer);
  SymbolizeRecording(sites, symbolizer);
  ExpectNamedAlike(all, sites);
  // The library's address under both mappings: each stack's site stands for it at its first
  // event, and again from the moment the mapping changed.
  const uint32_t a = static_cast<uint32_t>(all.mappings.size() - 2), b = a + 1;
  for (uint32_t m : {a, b}) {
    EXPECT_TRUE(sites.mapped_symbol_of.contains({m, kLib + 0x100})) << all.mappings[m].path;
    EXPECT_TRUE(all.mapped_symbol_of.contains({m, kLib + 0x100})) << all.mappings[m].path;
  }
}

TEST(EventSitesTest, AChangeOutsideEverySpanAddsNothing) {
  Recording r = WithALibraryReloaded(200, 5'000'000'000);  // after the last event
  EventSites event_sites;
  event_sites.Add(r.events, r.user_stacks);
  const std::vector<Event> reps = event_sites.Representatives(r);
  EXPECT_EQ(reps.size(), event_sites.sites() + event_sites.waiting());
}

TEST(EventSitesTest, AnEventWaitsForItsCookiesUserStack) {
  Recording r = WithALibraryReloaded(0, 5);
  const cookie::Cookie late = cookie::MakeCookie(1, 41), never = cookie::MakeCookie(1, 43);
  const Event deferred{.pid = 100,
                       .time_ns = 7,
                       .kernel_stack = 1,
                       .user = event::UserStack::kDeferred,
                       .cookie = late};
  Event lost = deferred;
  lost.cookie = never;
  EventSites event_sites;
  event_sites.Add(std::vector<Event>{deferred, lost}, r.user_stacks);
  EXPECT_EQ(event_sites.sites(), 0u);
  EXPECT_EQ(event_sites.waiting(), 2u);

  const std::pair<cookie::Cookie, UserStackEntry> arrived[] = {{late, {.stack = 3}}};
  event_sites.Arrived(arrived);
  EXPECT_EQ(event_sites.sites(), 1u);
  EXPECT_EQ(event_sites.waiting(), 1u);
  // Later events of that kernel entry find its stack at once.
  r.user_stacks[late] = {.stack = 3};
  event_sites.Add(std::vector<Event>{deferred}, r.user_stacks);
  EXPECT_EQ(event_sites.sites(), 1u);

  std::vector<Event> reps = event_sites.Representatives(r);
  ASSERT_EQ(reps.size(), 2u);
  std::sort(reps.begin(), reps.end(),
            [](const Event& x, const Event& y) { return x.user_stack > y.user_stack; });
  EXPECT_EQ(reps[0].user, event::UserStack::kInline);
  EXPECT_EQ(reps[0].user_stack, 3u);
  // The stack that never came: its kernel stack is still named, as a reader would find it.
  EXPECT_EQ(reps[1].user, event::UserStack::kNone);
  EXPECT_EQ(reps[1].kernel_stack, 1u);
}

}  // namespace
}  // namespace dprof::profile::internal
