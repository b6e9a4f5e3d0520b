#include "src/nat/drop_point.h"

#include <algorithm>

namespace vpncheck::nat {

std::string_view to_string(WalkAnswer::Kind k) {
  switch (k) {
    case WalkAnswer::Kind::none: return "none";
    case WalkAnswer::Kind::time_exceeded: return "time_exceeded";
    case WalkAnswer::Kind::unreachable: return "unreachable";
    case WalkAnswer::Kind::destination: return "destination";
  }
  return "none";
}

std::string_view to_string(DropResult r) {
  switch (r) {
    case DropResult::dropped: return "dropped";
    case DropResult::not_protocol_specific: return "not_protocol_specific";
    case DropResult::reached_destination: return "reached_destination";
    case DropResult::unknown: return "unknown";
  }
  return "unknown";
}

namespace {

using Kind = WalkAnswer::Kind;

bool heard(const WalkAnswer& a) { return a.kind != Kind::none; }

std::string hop_text(int ttl, const std::string& address) {
  return "hop " + std::to_string(ttl) + (address.empty() ? "" : " (" + address + ")");
}

// What answered the control copy at the first hop it got past the genuine one.
std::string control_reached(const WalkStep& s) {
  if (s.control.kind == Kind::destination) return "the reflector answered the control probe";
  return "the control probe drew an answer from " + hop_text(s.ttl, s.control.address);
}

}  // namespace

DropPoint locate_drop(std::vector<WalkStep> steps, const std::optional<std::string>& gateway) {
  std::sort(steps.begin(), steps.end(), [](const WalkStep& a, const WalkStep& b) { return a.ttl < b.ttl; });
  DropPoint out;
  out.steps = steps;

  for (const auto& s : steps) {
    if (s.genuine.kind == Kind::destination) {
      out.result = DropResult::reached_destination;
      out.explanation = "A copy of the genuine probe limited to " + std::to_string(s.ttl) +
                        " hops was answered by the reflector: it is not dropped on the way out.";
      return out;
    }
  }

  // The first hop where the control got further than the genuine probe:
  // the control drew an answer and the genuine one drew none, or was refused
  // there while the control went on.
  auto further = std::find_if(steps.begin(), steps.end(), [](const WalkStep& s) {
    if (!heard(s.control)) return false;
    if (!heard(s.genuine)) return true;
    return s.genuine.kind == Kind::unreachable && s.control.kind != Kind::unreachable;
  });

  if (further == steps.end()) {
    const auto both = std::find_if(steps.rbegin(), steps.rend(),
                                   [](const WalkStep& s) { return heard(s.genuine) && heard(s.control); });
    if (both == steps.rend()) {
      out.explanation = steps.empty() ? "The walk did not run before the deadline."
                                      : "No hop answered both probes (routers that send no ICMP errors, or "
                                        "limit them): where it dies cannot be told.";
      return out;
    }
    out.result = DropResult::not_protocol_specific;
    out.hop = both->ttl;
    out.explanation = "The control probe drew answers from no hop the genuine probe did not (both up to " +
                      hop_text(both->ttl, both->genuine.address) +
                      "): the walk shows no hop that stops only this protocol.";
    return out;
  }

  const WalkStep& f = *further;
  // A genuine answer from beyond the gap: the silence there was a lost or
  // rate-limited ICMP error, not a drop.
  for (auto s = std::next(further); s != steps.end(); ++s) {
    if (heard(s->genuine)) {
      out.explanation = "The genuine probe was not heard from at hop " + std::to_string(f.ttl) +
                        " but was from " + hop_text(s->ttl, s->genuine.address) +
                        ": a lost or rate-limited answer, so where it dies cannot be told.";
      return out;
    }
  }

  if (f.genuine.kind == Kind::unreachable) {
    out.result = DropResult::dropped;
    out.hop = f.ttl;
    out.address = f.genuine.address;
    out.explanation = hop_text(f.ttl, f.genuine.address) + " answered the genuine probe with \"unreachable\" while " +
                      control_reached(f) + ".";
  } else if (f.ttl == 1) {
    if (f.control.kind == Kind::destination) {
      out.explanation = "The reflector is the first hop: no router between to name.";
      return out;
    }
    out.result = DropResult::dropped;
    out.hop = 1;
    out.address = f.control.address;
    out.explanation = "The genuine probe drew no answer even from the first hop, while " + control_reached(f) + ".";
  } else {
    const auto before = std::find_if(steps.begin(), further, [&](const WalkStep& s) { return s.ttl == f.ttl - 1; });
    if (before == further || before->genuine.kind != Kind::time_exceeded) {
      int last = 0;
      for (auto s = steps.begin(); s != further; ++s)
        if (heard(s->genuine)) last = s->ttl;
      out.explanation = "The genuine probe was last heard from " +
                        (last == 0 ? std::string("no hop") : "hop " + std::to_string(last)) + " and " +
                        control_reached(f) + ", but hop " + std::to_string(f.ttl - 1) +
                        " did not answer the genuine probe: it dies between them, which one cannot be told.";
      return out;
    }
    out.result = DropResult::dropped;
    out.hop = before->ttl;
    out.address = before->genuine.address;
    out.explanation = "The genuine probe reached " + hop_text(before->ttl, before->genuine.address) +
                      " and no further: with one hop more it drew no answer while " + control_reached(f) + ".";
  }
  out.own_router = out.hop == 1 || (gateway && !out.address.empty() && out.address == *gateway);
  return out;
}

}  // namespace vpncheck::nat
