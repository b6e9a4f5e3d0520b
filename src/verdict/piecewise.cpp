// The protocols whose verdict is not "standard form or a fallback" but a
// combination of pieces; each rule lives in its own file next to this one.
#include <array>
#include <utility>

#include "src/verdict/ipsec_verdict.h"
#include "src/verdict/verdict.h"

namespace vpncheck::client {
namespace {

constexpr std::array<std::pair<std::string_view, PiecewiseAssessor>, 1> kAssessors{{
    {"ipsec", assess_ipsec},
}};

}  // namespace

PiecewiseAssessor find_piecewise_assessor(std::string_view protocol_id) {
  for (const auto& [id, assessor] : kAssessors)
    if (id == protocol_id) return assessor;
  return nullptr;
}

}  // namespace vpncheck::client
