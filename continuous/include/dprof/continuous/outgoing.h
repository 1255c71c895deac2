// dprof::continuous::Outgoing — one profile on its way to a backend: the HTTP request that
// delivers it, without credentials (the sender adds them, so a spooled request holds none).
#ifndef DPROF_CONTINUOUS_OUTGOING_H_
#define DPROF_CONTINUOUS_OUTGOING_H_

#include <string>
#include <vector>

namespace dprof::continuous {

struct Outgoing {
  std::string url;
  std::vector<std::string> headers = {};  // "Name: value": the body's type and encoding
  std::string body = {};
  std::string what = {};  // for messages: "a profile of nginx"

  bool operator==(const Outgoing&) const = default;
};

}  // namespace dprof::continuous

#endif  // DPROF_CONTINUOUS_OUTGOING_H_
