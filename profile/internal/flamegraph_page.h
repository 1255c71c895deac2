// The flame graph page (profile/flamegraph/page.html), compiled in. WriteFlameGraphHtml fills
// its two placeholders: %%TITLE%% (HTML-escaped text) and %%DATA%% (the JSON data).
#ifndef DPROF_PROFILE_INTERNAL_FLAMEGRAPH_PAGE_H_
#define DPROF_PROFILE_INTERNAL_FLAMEGRAPH_PAGE_H_

namespace dprof::profile::internal {

extern const char kFlameGraphPage[];

}  // namespace dprof::profile::internal

#endif  // DPROF_PROFILE_INTERNAL_FLAMEGRAPH_PAGE_H_
