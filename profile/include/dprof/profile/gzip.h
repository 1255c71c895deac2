// dprof::profile::Gzip — bytes compressed in the gzip format (RFC 1952), as pprof files and HTTP
// bodies with Content-Encoding: gzip carry them.
//
// Example:
//   absl::StatusOr<std::string> body = Gzip(request.SerializeAsString());
//
// Context: a pure function (zlib).
#ifndef DPROF_PROFILE_GZIP_H_
#define DPROF_PROFILE_GZIP_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dprof::profile {

// Internal when zlib fails (out of memory).
absl::StatusOr<std::string> Gzip(std::string_view bytes);

}  // namespace dprof::profile

#endif  // DPROF_PROFILE_GZIP_H_
