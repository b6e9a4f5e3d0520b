// The protocols whose verdict is not "standard form or a fallback" but a
// combination of pieces; each rule lives in its own file next to this one.
#include <array>
#include <utility>

#include "src/verdict/ipsec_verdict.h"
#include "src/verdict/l2tp_verdict.h"
#include "src/verdict/pptp_verdict.h"
#include "src/verdict/verdict.h"

namespace vpncheck::client {
namespace {

constexpr std::array<std::pair<std::string_view, PiecewiseAssessor>, 3> kAssessors{{
    {"ipsec", assess_ipsec},
    {"l2tp", assess_l2tp},  // single piece: the alternatives rule plus L2TP's own advice
    {"pptp", assess_pptp},
}};

}  // namespace

PiecewiseAssessor find_piecewise_assessor(std::string_view protocol_id) {
  for (const auto& [id, assessor] : kAssessors)
    if (id == protocol_id) return assessor;
  return nullptr;
}

}  // namespace vpncheck::client
