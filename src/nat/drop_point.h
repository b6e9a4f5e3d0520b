// Where on the path a protocol's genuine probe dies, from a walk of it and of
// its same-size control probe with rising TTL (IPv6: hop limit). Pure: the
// I/O that sends the TTL-limited copies and reads the ICMP answers is
// src/run/path_walk.h.
//
// Why it tells: a router decrements the TTL and, at 1, answers "time
// exceeded" (RFC 792; RFC 4443 §3.3) before its firewall rules for forwarded
// traffic run (Linux: ip_forward() sends it before the FORWARD hook). So the
// genuine probe draws that answer from every hop it reaches, including the
// one that then drops it, and none from the hops after; the control probe,
// which the reflector answered, draws answers from the same hops and beyond,
// which proves those hops answer at all. The last hop the genuine probe drew
// an answer from, just before the first hop where only the control did, is
// where it died. (A hop that drops on arrival, before its TTL check, looks
// the same as the hop before it dropping on the way out; the report names the
// last hop the probe provably reached.)
//
// Routers limit their ICMP errors (Linux: a burst of 6 per destination, then
// one a second), so a missing answer is often no evidence: this classifier
// concludes only from a hop where the control was answered and the genuine
// was not, and says `unknown` when a silent hop leaves the place open.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpncheck::nat {

// What one TTL-limited copy drew.
struct WalkAnswer {
  enum class Kind {
    none,           // nothing came back (dropped, or the hop does not answer, or its answer was rate-limited)
    time_exceeded,  // ICMP time exceeded from `address`: the copy reached that hop
    unreachable,    // ICMP destination unreachable from `address`: the copy went no further
    destination,    // the reflector answered: the copy went the whole way
  };
  Kind kind = Kind::none;
  std::string address;  // who answered; empty for none
};
std::string_view to_string(WalkAnswer::Kind k);  // "none", "time_exceeded", "unreachable", "destination"

// The genuine probe's and the control's copy with one TTL.
struct WalkStep {
  int ttl = 0;
  WalkAnswer genuine;
  WalkAnswer control;
};

enum class DropResult {
  dropped,                // died at `hop`
  not_protocol_specific,  // the control went no further than the genuine probe: the walk shows no drop of its own
  reached_destination,    // a TTL-limited genuine copy was answered by the reflector: not dropped on the way out
  unknown,                // the hops did not answer enough to tell
};
std::string_view to_string(DropResult r);  // "dropped", "not_protocol_specific", "reached_destination", "unknown"

struct DropPoint {
  DropResult result = DropResult::unknown;
  int hop = 0;                 // dropped: the hop number (TTL) of the last hop the genuine probe reached
  std::string address;         // dropped: that hop's address
  bool own_router = false;     // dropped: hop 1, or the default gateway the NAT tests found
  std::vector<WalkStep> steps; // in TTL order, as walked
  std::string explanation;     // one sentence saying what decided it
};

// `steps`: one entry per TTL walked, any order. `gateway`: the default
// gateway's address when known (it counts as the user's own router wherever
// it is on the path).
DropPoint locate_drop(std::vector<WalkStep> steps, const std::optional<std::string>& gateway);

}  // namespace vpncheck::nat
