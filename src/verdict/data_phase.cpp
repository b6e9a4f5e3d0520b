#include "src/verdict/data_phase.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace vpncheck::client {
namespace {

// What the reflector recorded of one data packet.
struct Arrived {
  bool echo_sent = false;
};

std::optional<std::uint32_t> sequence_of(const probes::Observation& o) {
  auto it = o.fields.find("sequence");
  if (it == o.fields.end()) return std::nullopt;
  std::uint32_t v = 0;
  const auto& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// How many IP packets a datagram of `payload` bytes of UDP (or of IP payload,
// `raw`) leaves a 1500-byte
// link as: one unless the sender fragments it (only a DF-clear sender's full
// size does), then one per 1480 (IPv4) or 1448 (IPv6, after its fragment
// header) bytes. Each fragment is lost on its own, so such a packet is lost
// more often than one datagram of the path's loss; judged as one, a lossy
// path would look like a box dropping full-size packets.
std::size_t fragments_on_the_link(std::size_t payload, bool ipv6, bool raw) {
  const std::size_t ip_payload = payload + (raw ? 0 : 8);
  const std::size_t header = ipv6 ? 40 : 20;
  if (ip_payload + header <= 1500) return 1;
  const std::size_t per_fragment = ipv6 ? 1448 : 1480;
  return (ip_payload + per_fragment - 1) / per_fragment;
}

// The chance that a packet of `fragments` fragments is lost, each lost with `per_fragment`.
double lost_whole(double per_fragment, std::size_t fragments) {
  if (fragments <= 1) return per_fragment;
  return 1 - std::pow(1 - per_fragment, static_cast<double>(fragments));
}

std::string plural(std::size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

DataPhaseJudgement judge_data_phase(const ProbeResult& r, const LossEstimate& loss, bool complete) {
  DataPhaseJudgement j;
  if (!r.client.data || !complete) return j;
  const auto& d = *r.client.data;
  const auto& sent = d.sent;
  // The reflector's records, by sequence (each arrival once; a duplicate the
  // path made counts once).
  std::map<std::uint32_t, Arrived> arrived;
  for (const auto& o : r.data_arrivals) {
    auto seq = sequence_of(o);
    if (!seq || *seq >= sent.size() || o.payload_length != sent[*seq].size) continue;
    arrived[*seq].echo_sent = arrived[*seq].echo_sent || o.reply.sent;
  }
  // An echo that came back proves its packet arrived: records missing for it
  // mean the reflector's records are not whole, and nothing is judged.
  for (const auto& s : sent)
    if (s.echoed && !arrived.contains(s.sequence)) return j;
  j.kind = DataPhaseJudgement::Kind::passed;

  const auto is_small = [&](const probes::DataSent& s) { return s.size == d.small_size; };
  const auto is_full = [&](const probes::DataSent& s) { return s.size == d.full_size && d.full_size != d.small_size; };
  std::size_t small_sent = 0, full_sent = 0, small_up = 0, full_up = 0, small_back = 0, full_back = 0,
              small_echoes = 0, full_echoes = 0;
  for (const auto& s : sent) {
    const bool up = arrived.contains(s.sequence);
    const bool echo_sent = up && arrived.at(s.sequence).echo_sent;
    if (is_small(s)) {
      ++small_sent;
      small_up += up;
      small_echoes += echo_sent;
      small_back += s.echoed;
    } else if (is_full(s)) {
      ++full_sent;
      full_up += up;
      full_echoes += echo_sent;
      full_back += s.echoed;
    }
  }
  const double out = loss.outbound_upper();
  // An echo is lost at most as often as a whole round trip is.
  const double back = loss.round_trip_upper();
  const bool raw = r.probe.variant.transport == probes::Transport::ip;
  const std::size_t full_fragments = fragments_on_the_link(d.full_size, r.probe.family == Family::ipv6, raw);
  const std::string full_bytes = std::to_string(d.full_size) + (raw ? " bytes of IP payload" : " bytes of UDP payload");
  const double full_out_loss = lost_whole(out, full_fragments);
  const double full_back_loss = lost_whole(back, full_fragments);
  const auto fail = [&](DataPhaseJudgement::Kind kind, bool upload, std::size_t packets, double per_packet,
                        std::string summary) {
    j.kind = kind;
    j.upload = upload;
    j.packets = packets;
    j.chance = std::pow(per_packet, static_cast<double>(packets));
    j.summary = std::move(summary);
  };

  if (arrived.empty()) {
    // Nothing reached the reflector: judged on the small ones, which no MTU explains.
    if (small_sent > 0)
      fail(DataPhaseJudgement::Kind::data_dropped, true, small_sent, out,
           "the handshake passed, but none of the " + plural(sent.size(), "data packet", "data packets") +
               " sent after it (" + plural(small_sent, "small one", "small ones") +
               " among them) reached the reflector.");
    return j;
  }
  // The first few passed, then nothing: the small packets sent after the last arrival.
  const std::uint32_t last = arrived.rbegin()->first;
  std::size_t small_after = 0;
  for (const auto& s : sent)
    if (s.sequence > last && is_small(s)) ++small_after;
  if (small_after > 0) {
    std::size_t before = 0;
    for (const auto& s : sent) before += s.sequence <= last && arrived.contains(s.sequence);
    fail(DataPhaseJudgement::Kind::data_dropped, true, small_after, out,
         "the handshake passed and the first " + plural(before, "data packet", "data packets") +
             " reached the reflector, then none of the next " + std::to_string(sent.size() - last - 1) + " (" +
             plural(small_after, "small one", "small ones") + " among them) did.");
    j.passed_first = before;
    if (j.chance < kChanceThreshold) return j;
  }
  // Full size is told apart from a stop only by small packets that passed
  // after full-size ones were sent; without one, a weak stop is all there is.
  const auto first_full =
      std::find_if(sent.begin(), sent.end(), [&](const probes::DataSent& s) { return is_full(s); });
  const bool small_after_full =
      first_full != sent.end() && std::any_of(sent.begin(), sent.end(), [&](const probes::DataSent& s) {
        return is_small(s) && s.sequence > first_full->sequence && arrived.contains(s.sequence);
      });
  if (small_after > 0 && !small_after_full) return j;
  if (small_back + full_back == 0 && small_echoes + full_echoes > 0) {
    fail(DataPhaseJudgement::Kind::data_dropped, false, small_echoes + full_echoes, back,
         "its data packets reached the reflector, but none of the " +
             plural(small_echoes + full_echoes, "echo", "echoes") + " the reflector sent back came back.");
    return j;
  }
  if (small_back == 0) return j;  // small ones do not make the round trip: nothing to compare full size with
  if (full_sent > 0 && full_up == 0) {
    fail(DataPhaseJudgement::Kind::full_size_dropped, true, full_sent, full_out_loss,
         "small data packets pass both ways, but none of the " +
             plural(full_sent, "full-size one", "full-size ones") + " (" + full_bytes + ") reached the reflector.");
    return j;
  }
  if (full_back == 0 && full_echoes > 0) {
    fail(DataPhaseJudgement::Kind::full_size_dropped, false, full_echoes, full_back_loss,
         "small data packets pass both ways, and full-size ones (" + full_bytes +
             ") reach the reflector, but none of its " +
             plural(full_echoes, "full-size echo", "full-size echoes") + " came back.");
    return j;
  }
  j.kind = DataPhaseJudgement::Kind::passed;
  j.chance = 1;
  j.summary.clear();
  return j;
}

namespace {

bool judged_family(const ProtocolAssessment& a) {
  return a.verdict == Verdict::pass || a.verdict == Verdict::restricted;
}

// The judgements of one family's data phases: those at the places the rule
// named (ProtocolAssessment::data_variants), else those at the working
// variant when it ran one there, else all of them.
std::vector<const ProbeResult*> data_results(const ProtocolAssessment& a, Family family) {
  std::vector<const ProbeResult*> all, working, named;
  for (const auto& r : a.probes) {
    if (r.probe.family != family || !r.client.data) continue;
    all.push_back(&r);
    if (a.working_variant && r.probe.variant.same_place(*a.working_variant)) working.push_back(&r);
    if (std::any_of(a.data_variants.begin(), a.data_variants.end(),
                    [&](const probes::ProbeVariant& v) { return r.probe.variant.same_place(v); }))
      named.push_back(&r);
  }
  if (!a.data_variants.empty()) return named;
  return working.empty() ? all : working;
}

void apply_to(ProtocolAssessment& a, const probes::ProtocolModule& module, Family family, const LossEstimate& loss,
              bool complete, std::optional<int> path_mtu) {
  if (!judged_family(a)) return;
  const auto& phase = *module.data_phase;
  auto results = data_results(a, family);
  if (results.empty()) return;
  // The worst judgement that stands, counted over every place tried.
  std::optional<DataPhaseJudgement> worst;
  std::optional<DataPhaseJudgement> weak;
  const probes::ProbeVariant* worst_place = nullptr;
  for (const auto* r : results) {
    auto j = judge_data_phase(*r, loss, complete);
    if (j.kind != DataPhaseJudgement::Kind::data_dropped && j.kind != DataPhaseJudgement::Kind::full_size_dropped)
      continue;
    j.chance = std::min(1.0, j.chance * static_cast<double>(results.size()));
    if (j.chance >= kChanceThreshold) {
      if (!weak) weak = j;
      continue;
    }
    if (!worst || (j.kind == DataPhaseJudgement::Kind::data_dropped &&
                   worst->kind != DataPhaseJudgement::Kind::data_dropped)) {
      worst = j;
      worst_place = &r->probe.variant;
    }
  }
  // A raw IP place is named: the protocol's other places may carry data.
  const bool raw = worst_place != nullptr && worst_place->transport == probes::Transport::ip;
  if (raw) worst->summary = "over " + describe(*worst_place) + " " + worst->summary;
  const auto add_summary = [&](const std::string& text) {
    if (a.summary.find(text) == std::string::npos) a.summary += (a.summary.empty() ? "" : " ") + text;
  };
  if (!worst) {
    if (weak)
      add_summary("Its data packets after the handshake could not be checked: what did not come through may be "
                  "chance on this path (" + describe_chance(weak->chance) + " by loss alone).");
    return;
  }
  a.verdict = Verdict::restricted;
  std::string title(module.title);
  if (worst->kind == DataPhaseJudgement::Kind::data_dropped) {
    add_summary("However: " + worst->summary + " Something on the path lets " + title +
                "'s handshake through and stops its data (" + describe_chance(worst->chance) + " by loss alone).");
    // The place that works instead of a blocked standard one carries no data either: not advised.
    if (a.working_variant && !a.working_variant->standard && module.advice_use_variant != nullptr)
      std::erase(a.advice, module.advice_use_variant(*a.working_variant));
    add_unique(a.findings, finding::kDataDroppedAfterHandshake);
    // A raw IP protocol's data is stopped by what filters that protocol, not
    // by a signature: the advice is the protocol's own for that place.
    if (raw && module.advice_use_variant != nullptr)
      add_unique(a.advice, module.advice_use_variant(*worst_place));
    else
      add_unique(a.advice, module.advice_signature_blocked);
  } else if (std::find(a.findings.begin(), a.findings.end(), finding::kFullSizePacketsDropped) != a.findings.end()) {
    // The path test already said why, in the protocol's words, with the fix.
    add_summary("The data phase confirms it (" + describe_chance(worst->chance) + " by loss alone): " +
                worst->summary);
  } else {
    const int mtu = path_mtu.value_or(1280);
    add_summary("However: " + worst->summary + " " + std::string(phase.full_size_words) +
                (phase.df == probes::DontFragment::system_default
                     ? " carry DF as the real software sends them on Linux, so nothing fragments them"
                     : " leave DF clear as the real software sends them on Linux: the path loses large packets "
                       "or their fragments") +
                " (" + describe_chance(worst->chance) + " by loss alone)." +
                (path_mtu ? "" : " The path MTU was not measured: the advice assumes 1280 bytes, which every "
                                 "IPv6 path carries."));
    add_unique(a.findings, finding::kFullSizePacketsDropped);
    for (const auto& line : phase.advice_mtu(mtu)) add_unique(a.advice, line);
  }
  add_unique(a.findings, worst->upload ? finding::kUploadLost : finding::kDownloadLost);
}

}  // namespace

void apply_data_phase(std::vector<ProtocolAssessment>& assessments, bool complete, std::optional<int> path_mtu) {
  std::vector<ProbeResult> all, v4, v6;
  for (const auto& a : assessments)
    for (const auto& r : a.probes) {
      all.push_back(r);
      (r.probe.family == Family::ipv6 ? v6 : v4).push_back(r);
    }
  // The worse of the family's own loss and the whole run's: a family that
  // measured little on its own is not judged on its luck.
  const auto pessimistic = [&](const std::vector<ProbeResult>& family) {
    LossEstimate own = estimate_loss(family), run = estimate_loss(all);
    return own.outbound_upper() + own.round_trip_upper() >= run.outbound_upper() + run.round_trip_upper() ? own
                                                                                                           : run;
  };
  const LossEstimate loss_v4 = pessimistic(v4), loss_v6 = pessimistic(v6);
  for (auto& a : assessments) {
    if (a.module == nullptr || a.module->data_phase == nullptr) continue;
    // The path test measures IPv4 only.
    const std::optional<int> mtu_v6 = std::nullopt;
    if (a.families.empty()) {
      const Family f = a.probes.empty() ? Family::ipv4 : a.probes.front().probe.family;
      apply_to(a, *a.module, f, f == Family::ipv6 ? loss_v6 : loss_v4, complete, f == Family::ipv6 ? mtu_v6 : path_mtu);
      continue;
    }
    for (auto& f : a.families) {
      if (!f.family) continue;
      const bool v6f = *f.family == Family::ipv6;
      apply_to(f, *a.module, *f.family, v6f ? loss_v6 : loss_v4, complete, v6f ? mtu_v6 : path_mtu);
    }
    // The protocol's own entry is its first family's (IPv4 when tested).
    const auto& first = a.families.front();
    if (first.family)
      apply_to(a, *a.module, *first.family, *first.family == Family::ipv6 ? loss_v6 : loss_v4, complete,
               *first.family == Family::ipv6 ? mtu_v6 : path_mtu);
  }
}

}  // namespace vpncheck::client
