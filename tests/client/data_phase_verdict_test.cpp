// The data phase's rule (src/verdict/data_phase.cpp) on synthetic outcome
// sets: which data packets were sent, which the reflector recorded and
// echoed, which echoes came back; and that loss alone never makes a finding.
#include "src/verdict/data_phase.h"

#include <cmath>

#include <gtest/gtest.h>

#include "client_fixtures.h"
#include "probes/ipsec.h"
#include "probes/ipsec_esp.h"
#include "probes/wireguard.h"
#include "src/verdict/verdict.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::everything;
using fixtures::Fate;
using fixtures::has_finding;
using fixtures::joined;
using fixtures::scenario;
using fixtures::wireguard;
using Kind = DataPhaseJudgement::Kind;

constexpr std::size_t kSmall = probes::wireguard::kDataSmallSize;
constexpr std::size_t kFull = probes::wireguard::kDataFullSize;

// What happened to one data packet.
struct Packet {
  std::size_t size;
  bool arrived;
  bool echoed;  // came back (implies arrived)
  bool echo_sent = true;  // the reflector echoed it (when arrived)
};

// The probe at the module's standard place (WireGuard's unless said), answered.
ProbeResult standard_answered(const probes::ProtocolModule& module = wireguard()) {
  ProbeResult r = scenario(module, everything(Fate::answered)).front();
  EXPECT_TRUE(r.probe.variant.standard && r.probe.variant.transport == probes::Transport::udp);
  return r;
}

// `base` (by default the module's standard place's probe) with this data phase.
ProbeResult with_data(const std::vector<Packet>& packets, const probes::ProtocolModule& module = wireguard(),
                      std::optional<ProbeResult> base = std::nullopt) {
  ProbeResult r = base ? std::move(*base) : standard_answered(module);
  probes::DataPhaseResult d;
  d.small_size = module.data_phase->small_payload;
  d.full_size = module.data_phase->full_payload(r.probe.variant.transport, r.probe.family == Family::ipv6);
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const auto& p = packets[i];
    d.sent.push_back({static_cast<std::uint32_t>(i), p.size, 10.0 * static_cast<double>(i), p.echoed});
    if (!p.arrived) continue;
    probes::Observation o;
    o.probe_index = r.probe.index;
    o.protocol = std::string(module.id);
    o.kind = std::string(probes::kDataObservation);
    o.payload_length = p.size;
    o.fields = {{"sequence", std::to_string(i)}};
    o.reply.sent = p.echo_sent;
    if (!p.echo_sent) o.reply.code = "amplification";
    r.data_arrivals.push_back(o);
  }
  r.client.data = d;
  return r;
}

// The schedule's shape (src/run/exchange.cpp): 2 small, 2 full, then per try
// 2 small and 2 full while full size has no echo; `tries` tries after the burst.
std::vector<Packet> schedule(std::size_t tries, Packet small, Packet full) {
  std::vector<Packet> out{small, small, full, full};
  for (std::size_t t = 0; t < tries; ++t) {
    out.push_back(small);
    out.push_back(small);
    out.push_back(full);
    out.push_back(full);
  }
  return out;
}

// Loss measured elsewhere in the run: `lost` of 100 datagrams and of 100 round trips.
LossEstimate loss(std::size_t lost_out, std::size_t lost_round_trips) {
  LossEstimate l;
  l.datagrams_sent = 100;
  l.datagrams_arrived = 100 - lost_out;
  l.round_trips = 100;
  l.round_trips_failed = lost_round_trips;
  return l;
}
const LossEstimate kClean = loss(0, 0);
const LossEstimate kLossy = loss(15, 28);  // 15 % each way: about 28 % of round trips

TEST(DataPhaseJudge, EverythingEchoedPasses) {
  auto j = judge_data_phase(with_data({{kSmall, true, true}, {kSmall, true, true}, {kFull, true, true}, {kFull, true, true}}),
                            kClean, true);
  EXPECT_EQ(j.kind, Kind::passed);
}

// L2TP's full size (1538 bytes over IPv4) leaves a 1500-byte link as two
// fragments: lost when either is, so loss alone explains more of it than of
// WireGuard's single packets.
TEST(DataPhaseJudge, AFragmentedFullSizePacketIsLostWhenEitherFragmentIs) {
  const auto& phase = *fixtures::l2tp().data_phase;
  const LossEstimate some_loss = loss(5, 10);
  const double out = some_loss.outbound_upper();
  auto j = judge_data_phase(
      with_data(schedule(3, {phase.small_payload, true, true}, {phase.full_payload_v4, false, false}), fixtures::l2tp()),
      some_loss, true);
  ASSERT_EQ(j.kind, Kind::full_size_dropped);
  EXPECT_EQ(j.packets, 8U);
  EXPECT_DOUBLE_EQ(j.chance, std::pow(1 - (1 - out) * (1 - out), 8.0));
  auto wg = judge_data_phase(with_data(schedule(3, {kSmall, true, true}, {kFull, false, false})), some_loss, true);
  ASSERT_EQ(wg.kind, Kind::full_size_dropped);
  EXPECT_DOUBLE_EQ(wg.chance, std::pow(out, 8.0));
}

TEST(DataPhaseJudge, NoDataReachedTheReflector) {
  auto j = judge_data_phase(with_data(schedule(6, {kSmall, false, false}, {kFull, false, false})), kClean, true);
  EXPECT_EQ(j.kind, Kind::data_dropped);
  EXPECT_TRUE(j.upload);
  EXPECT_EQ(j.packets, 14U);  // judged on the small ones, which no MTU explains
  EXPECT_LT(j.chance, kChanceThreshold);
}

TEST(DataPhaseJudge, TheFirstFewPassedThenNothing) {
  auto packets = schedule(6, {kSmall, false, false}, {kFull, false, false});
  packets[0] = packets[1] = {kSmall, true, true};
  auto j = judge_data_phase(with_data(packets), kClean, true);
  EXPECT_EQ(j.kind, Kind::data_dropped);
  EXPECT_TRUE(j.upload);
  EXPECT_EQ(j.passed_first, 2U);
  EXPECT_EQ(j.packets, 12U);  // the small ones after the last arrival
  EXPECT_TRUE(contains(j.summary, "the first 2 data packets reached the reflector")) << j.summary;
}

TEST(DataPhaseJudge, AWeakStopIsNotTakenForFullSizeLoss) {
  // The first two small ones passed, nothing after; on a path whose loss is
  // barely measured that stop is weak, and with no small packet through after
  // the full-size ones nothing says full size is the problem.
  auto packets = schedule(2, {kSmall, false, false}, {kFull, false, false});
  packets[0] = packets[1] = {kSmall, true, true};
  LossEstimate barely;  // six datagrams, none lost: a wide upper bound
  barely.datagrams_sent = barely.datagrams_arrived = barely.round_trips = 6;
  auto j = judge_data_phase(with_data(packets), barely, true);
  EXPECT_EQ(j.kind, Kind::data_dropped);
  EXPECT_GE(j.chance, kChanceThreshold);
  // Small ones passing after the full-size ones make it full size.
  packets.at(8) = {kSmall, true, true};
  packets.at(9) = {kSmall, true, true};
  j = judge_data_phase(with_data(packets), kClean, true);
  EXPECT_EQ(j.kind, Kind::full_size_dropped);
}

TEST(DataPhaseJudge, FullSizeLostOnTheWayOut) {
  auto j = judge_data_phase(with_data(schedule(6, {kSmall, true, true}, {kFull, false, false})), kClean, true);
  EXPECT_EQ(j.kind, Kind::full_size_dropped);
  EXPECT_TRUE(j.upload);
  EXPECT_EQ(j.packets, 14U);
}

TEST(DataPhaseJudge, FullSizeLostOnTheWayBack) {
  auto j = judge_data_phase(with_data(schedule(6, {kSmall, true, true}, {kFull, true, false})), kClean, true);
  EXPECT_EQ(j.kind, Kind::full_size_dropped);
  EXPECT_FALSE(j.upload);
  EXPECT_EQ(j.packets, 14U);  // the echoes the reflector sent
  EXPECT_TRUE(contains(j.summary, "none of its 14 full-size echoes came back")) << j.summary;
}

TEST(DataPhaseJudge, EchoesOfEverySizeLostOnTheWayBack) {
  auto j = judge_data_phase(with_data(schedule(6, {kSmall, true, false}, {kFull, true, false})), kClean, true);
  EXPECT_EQ(j.kind, Kind::data_dropped);
  EXPECT_FALSE(j.upload);
}

TEST(DataPhaseJudge, EchoesTheReflectorWithheldAreNoEvidence) {
  // A source the session did not validate gets no echoes: nothing came back, nothing was lost.
  auto j = judge_data_phase(with_data(schedule(6, {kSmall, true, false, false}, {kFull, true, false, false})),
                            kClean, true);
  EXPECT_EQ(j.kind, Kind::passed);
}

TEST(DataPhaseJudge, WithoutTheReflectorsWholeRecordsNothingIsJudged) {
  auto dropped = with_data(schedule(6, {kSmall, false, false}, {kFull, false, false}));
  EXPECT_EQ(judge_data_phase(dropped, kClean, false).kind, Kind::not_judged);
  // An echo came back for a packet the records lack: they are not whole.
  auto r = with_data(schedule(6, {kSmall, true, true}, {kFull, false, false}));
  r.data_arrivals.erase(r.data_arrivals.begin());
  EXPECT_EQ(judge_data_phase(r, kClean, true).kind, Kind::not_judged);
  // No data phase ran.
  auto plain = scenario(wireguard(), everything(Fate::answered)).front();
  EXPECT_EQ(judge_data_phase(plain, kClean, true).kind, Kind::not_judged);
}

TEST(DataPhaseJudge, RandomLossIsNoFinding) {
  // 15 % each way: some of each size lost, some arrive, some echoes lost; one of each came back.
  auto j = judge_data_phase(with_data({{kSmall, false, false},
                                       {kSmall, true, true},
                                       {kFull, true, false},
                                       {kFull, false, false},
                                       {kSmall, true, false},
                                       {kFull, true, true}}),
                            kLossy, true);
  EXPECT_EQ(j.kind, Kind::passed);
}

TEST(DataPhaseJudge, AFewLostFullSizePacketsOnALossyPathAreWeak) {
  // The deadline came after the first burst and one try: 4 full-size packets, none arrived.
  auto j = judge_data_phase(with_data(schedule(1, {kSmall, true, true}, {kFull, false, false})), kLossy, true);
  EXPECT_EQ(j.kind, Kind::full_size_dropped);
  EXPECT_GE(j.chance, kChanceThreshold);
  // The same on a clean path is strong.
  j = judge_data_phase(with_data(schedule(1, {kSmall, true, true}, {kFull, false, false})), kClean, true);
  EXPECT_LT(j.chance, kChanceThreshold);
}

// ---- verdicts

// Other probes of the run, all answered in the end, from which the rule
// measures the path's loss: 40 UDP probes, each sent once and answered
// (clean), or three in four sent twice, the first copy lost on the way out
// for a third of them and its answer for the rest (lossy: about 12 % out,
// 43 % of round trips).
std::vector<ProbeResult> background(bool lossy) {
  std::vector<ProbeResult> out;
  while (out.size() < 40)
    for (auto r : scenario(fixtures::openvpn(), everything(Fate::answered))) {
      if (r.probe.variant.transport != probes::Transport::udp || out.size() >= 40) continue;
      const std::size_t i = out.size();
      // A quarter answered at once even on the lossy path: the path's round trip.
      const bool retried = lossy && i % 4 != 0;
      r.client.attempts = {retried ? probes::StepAttempts{{0, 250}, 255} : probes::StepAttempts{{0}, 5}};
      r.client.sends = retried ? 2 : 1;
      r.arrivals.resize(retried && i % 3 != 0 ? 2 : 1, r.arrivals.front());
      out.push_back(std::move(r));
    }
  return out;
}

std::vector<ProtocolAssessment> assessed_with(ProbeResult data_probe, bool lossy = false,
                                              const probes::ProtocolModule& module = wireguard()) {
  auto results = scenario(module, everything(Fate::answered));
  results.front() = std::move(data_probe);
  std::vector<ProtocolAssessment> all{assess_families(module, results, true)};
  EXPECT_EQ(all[0].verdict, Verdict::pass);
  for (auto& r : background(lossy)) all[0].probes.push_back(std::move(r));
  return all;
}

TEST(DataPhaseVerdict, DataDroppedAfterTheHandshakeRestrictsWithTheProtocolsAdvice) {
  auto all = assessed_with(with_data(schedule(6, {kSmall, false, false}, {kFull, false, false})));
  apply_data_phase(all, true, std::nullopt);
  EXPECT_EQ(all[0].verdict, Verdict::restricted);
  EXPECT_TRUE(has_finding(all[0], finding::kDataDroppedAfterHandshake));
  EXPECT_TRUE(has_finding(all[0], finding::kUploadLost));
  EXPECT_FALSE(has_finding(all[0], finding::kFullSizePacketsDropped));
  EXPECT_TRUE(contains(joined(all[0].advice), std::string(wireguard().advice_signature_blocked)));
  EXPECT_TRUE(contains(all[0].summary, "lets WireGuard's handshake through and stops its data")) << all[0].summary;
  ASSERT_FALSE(all[0].families.empty());
  EXPECT_EQ(all[0].families.front().verdict, Verdict::restricted);
}

TEST(DataPhaseVerdict, FullSizeDroppedAdvisesTheMtuFromThePathMtu) {
  auto all = assessed_with(with_data(schedule(6, {kSmall, true, true}, {kFull, false, false})));
  apply_data_phase(all, true, 1280);
  EXPECT_EQ(all[0].verdict, Verdict::restricted);
  EXPECT_TRUE(has_finding(all[0], finding::kFullSizePacketsDropped));
  EXPECT_TRUE(has_finding(all[0], finding::kUploadLost));
  EXPECT_TRUE(contains(joined(all[0].advice), "WireGuard: MTU = 1220")) << joined(all[0].advice);
  EXPECT_TRUE(contains(all[0].summary, "carry DF")) << all[0].summary;
  EXPECT_FALSE(contains(all[0].summary, "was not measured"));
}

// L2TP's full-size packets leave DF clear (Linux's kernel L2TP): losing them
// is the path's doing, not DF's, and the advice is PPP's MTU.
TEST(DataPhaseVerdict, FullSizeDroppedWithoutDfNamesThePathAndPppsMtu) {
  const auto& phase = *fixtures::l2tp().data_phase;
  ASSERT_EQ(phase.df, probes::DontFragment::clear);
  auto all = assessed_with(with_data(schedule(6, {phase.small_payload, true, true}, {phase.full_payload_v4, false, false}),
                                     fixtures::l2tp()),
                           false, fixtures::l2tp());
  apply_data_phase(all, true, 1280);
  EXPECT_EQ(all[0].verdict, Verdict::restricted);
  EXPECT_TRUE(has_finding(all[0], finding::kFullSizePacketsDropped));
  EXPECT_TRUE(has_finding(all[0], finding::kUploadLost));
  EXPECT_TRUE(contains(joined(all[0].advice), "L2TP: mtu 1236 and mru 1236")) << joined(all[0].advice);
  EXPECT_FALSE(contains(all[0].summary, "carry DF")) << all[0].summary;
  EXPECT_TRUE(contains(all[0].summary, "leave DF clear")) << all[0].summary;
}

// The path test already restricted it and said why, with the fix: the data
// phase confirms it in one sentence rather than explaining it twice.
TEST(DataPhaseVerdict, FullSizeLossThePathTestExplainedIsConfirmedNotRepeated) {
  auto all = assessed_with(with_data(schedule(6, {kSmall, true, true}, {kFull, false, false})));
  all[0].verdict = Verdict::restricted;
  all[0].summary += " However: the path test's reason.";
  all[0].findings.emplace_back(finding::kFullSizePacketsDropped);
  apply_data_phase(all, true, 1280);
  EXPECT_EQ(all[0].verdict, Verdict::restricted);
  EXPECT_TRUE(contains(all[0].summary, "The data phase confirms it (")) << all[0].summary;
  EXPECT_FALSE(contains(all[0].summary, "carry DF")) << all[0].summary;
  EXPECT_EQ(std::count(all[0].findings.begin(), all[0].findings.end(), finding::kFullSizePacketsDropped), 1);
  EXPECT_TRUE(has_finding(all[0], finding::kUploadLost));
}

TEST(DataPhaseVerdict, FullSizeLostOnTheWayBackIsDownloadLoss) {
  auto all = assessed_with(with_data(schedule(6, {kSmall, true, true}, {kFull, true, false})));
  apply_data_phase(all, true, std::nullopt);
  EXPECT_EQ(all[0].verdict, Verdict::restricted);
  EXPECT_TRUE(has_finding(all[0], finding::kFullSizePacketsDropped));
  EXPECT_TRUE(has_finding(all[0], finding::kDownloadLost));
  EXPECT_FALSE(has_finding(all[0], finding::kUploadLost));
  // Without a measured path MTU the advice says what it assumed.
  EXPECT_TRUE(contains(joined(all[0].advice), "WireGuard: MTU = 1220"));
  EXPECT_TRUE(contains(all[0].summary, "was not measured")) << all[0].summary;
}

TEST(DataPhaseVerdict, LossyPathsLeaveThePassWithANote) {
  // Four full-size packets lost, small ones through: strong on a clean path, weak on a lossy one.
  auto clean = assessed_with(with_data(schedule(1, {kSmall, true, true}, {kFull, false, false})));
  apply_data_phase(clean, true, 1280);
  EXPECT_EQ(clean[0].verdict, Verdict::restricted);
  auto all = assessed_with(with_data(schedule(1, {kSmall, true, true}, {kFull, false, false})), true);
  apply_data_phase(all, true, 1280);
  EXPECT_EQ(all[0].verdict, Verdict::pass);
  EXPECT_TRUE(all[0].findings.empty());
  EXPECT_TRUE(contains(all[0].summary, "could not be checked")) << all[0].summary;
}

TEST(DataPhaseVerdict, NothingChangesWithoutTheReflectorsRecords) {
  auto all = assessed_with(with_data(schedule(6, {kSmall, false, false}, {kFull, false, false})));
  apply_data_phase(all, false, std::nullopt);
  EXPECT_EQ(all[0].verdict, Verdict::pass);
  EXPECT_TRUE(all[0].findings.empty());
}

TEST(DataPhaseVerdict, AFailedHandshakeIsNotJudgedAgain) {
  auto results = scenario(wireguard(), everything(Fate::dropped));
  std::vector<ProtocolAssessment> all{assess_families(wireguard(), results, true)};
  const auto before = all[0].verdict;
  apply_data_phase(all, true, std::nullopt);
  EXPECT_EQ(all[0].verdict, before);
  EXPECT_FALSE(has_finding(all[0], finding::kDataDroppedAfterHandshake));
}

// WireGuard blocked on UDP 51820 and 53, its handshake answered on UDP 443
// with this data phase there; OpenVPN blocked everywhere.
std::vector<ProtocolAssessment> fallback_with_data(const std::vector<Packet>& packets) {
  auto results = scenario(wireguard(), [](const probes::ProbeVariant& v, ProbeKind) {
    return v.port == 443 ? Fate::answered : Fate::dropped;
  });
  for (auto& r : results)
    if (r.probe.kind == ProbeKind::genuine && r.probe.variant.port == 443) r = with_data(packets, wireguard(), r);
  std::vector<ProtocolAssessment> all{assess_families(wireguard(), results, true)};
  EXPECT_EQ(all[0].verdict, Verdict::restricted);
  all.push_back(assess_families(fixtures::openvpn(), scenario(fixtures::openvpn(), everything(Fate::dropped)), true));
  EXPECT_EQ(all[1].verdict, Verdict::blocked);
  for (auto& r : background(false)) all[0].probes.push_back(std::move(r));
  return all;
}

// The place that works instead of a blocked standard one is advised only
// when its data passes too: a box that lets the handshake through on UDP 443
// and stops the data there leaves nothing to advise, to WireGuard's users or
// to OpenVPN's.
TEST(DataPhaseVerdict, AFallbackPlaceWhoseDataIsDroppedIsNotAdvised) {
  const std::string use_443 = wireguard().advice_use_variant(probes::ProbeVariant{probes::Transport::udp, 443, false});
  auto stopped = fallback_with_data(schedule(6, {kSmall, false, false}, {kFull, false, false}));
  ASSERT_TRUE(contains(joined(stopped[0].advice), use_443)) << joined(stopped[0].advice);
  apply_data_phase(stopped, true, std::nullopt);
  add_alternatives(stopped);
  EXPECT_EQ(stopped[0].verdict, Verdict::restricted);
  EXPECT_TRUE(has_finding(stopped[0], finding::kDataDroppedAfterHandshake));
  EXPECT_FALSE(contains(joined(stopped[0].advice), use_443)) << joined(stopped[0].advice);
  EXPECT_FALSE(contains(joined(stopped[1].advice), "WireGuard")) << joined(stopped[1].advice);

  auto carried = fallback_with_data(schedule(0, {kSmall, true, true}, {kFull, true, true}));
  apply_data_phase(carried, true, std::nullopt);
  add_alternatives(carried);
  EXPECT_FALSE(has_finding(carried[0], finding::kDataDroppedAfterHandshake));
  EXPECT_TRUE(contains(joined(carried[0].advice), use_443)) << joined(carried[0].advice);
  EXPECT_TRUE(contains(joined(carried[1].advice), "Works on this network instead: WireGuard (UDP 443).")) << joined(carried[1].advice);
}

// ---- IPsec: judged where its data goes (NAT-T behind NAT, raw ESP without)

const probes::ProtocolModule& ipsec() { return probes::ipsec::kModule; }
constexpr std::size_t kEspSmall = probes::esp::kDataSmallSize;
constexpr std::size_t kNatTFull = probes::esp::kDataFullSizeV4;   // ESP in UDP
constexpr std::size_t kRawEspFull = probes::esp::kDataFullIpSizeV4;  // ESP as the IP payload

const std::vector<Packet> kEspClean = schedule(0, {kEspSmall, true, true}, {kNatTFull, true, true});
const std::vector<Packet> kRawClean = schedule(0, {kEspSmall, true, true}, {kRawEspFull, true, true});

// IPsec with every piece answered (raw ESP and AH included), behind NAT or
// on a routed path, with these data phases after NAT-T's and raw ESP's
// handshakes (nullopt: none ran there).
std::vector<ProtocolAssessment> ipsec_with_data(bool nat, std::optional<std::vector<Packet>> natt,
                                                std::optional<std::vector<Packet>> raw, bool lossy = false) {
  probes::Capabilities caps = fixtures::listening_everywhere();
  auto results = scenario(ipsec(), caps, everything(Fate::answered));
  for (auto& r : results) {
    if (r.probe.kind != ProbeKind::genuine) continue;
    const auto piece = r.probe.variant.piece;
    if (piece == probes::ipsec::kPieceIkev2) r.client.reply_fields["behind_nat"] = nat ? "yes" : "no";
    if (piece == probes::ipsec::kPieceNatT && natt) r = with_data(*natt, ipsec(), r);
    if (piece == probes::ipsec::kPieceEsp && raw) r = with_data(*raw, ipsec(), r);
  }
  std::vector<ProtocolAssessment> all{assess_families(ipsec(), results, true)};
  EXPECT_EQ(all[0].verdict, Verdict::pass) << all[0].summary;
  for (auto& r : background(lossy)) all[0].probes.push_back(std::move(r));
  return all;
}

// The raw ESP probe's full size is the IP payload filling 1500 bytes: one
// packet, not fragments of a UDP datagram 8 bytes too large.
TEST(DataPhaseJudge, RawEspFullSizeIsOnePacketOnTheLink) {
  auto results = scenario(ipsec(), everything(Fate::answered));
  auto raw = std::find_if(results.begin(), results.end(), [](const ProbeResult& r) {
    return r.probe.kind == ProbeKind::genuine && r.probe.variant.piece == probes::ipsec::kPieceEsp;
  });
  ASSERT_NE(raw, results.end());
  const LossEstimate some_loss = loss(5, 10);
  auto j = judge_data_phase(with_data(schedule(3, {kEspSmall, true, true}, {kRawEspFull, false, false}), ipsec(), *raw),
                            some_loss, true);
  ASSERT_EQ(j.kind, Kind::full_size_dropped);
  EXPECT_EQ(j.packets, 8U);
  EXPECT_DOUBLE_EQ(j.chance, std::pow(some_loss.outbound_upper(), 8.0));
  EXPECT_TRUE(contains(j.summary, "1480 bytes of IP payload")) << j.summary;
}

// A routed path (no NAT): clients send raw ESP. Its handshake passed, its
// data stopped: restricted, with the advice for ESP's own place, whatever
// NAT-T's data did.
TEST(IpsecDataPhase, RoutedPathDroppingRawEspDataIsRestricted) {
  auto all = ipsec_with_data(false, kEspClean, schedule(6, {kEspSmall, false, false}, {kRawEspFull, false, false}));
  apply_data_phase(all, true, std::nullopt);
  EXPECT_EQ(all[0].verdict, Verdict::restricted) << all[0].summary;
  EXPECT_TRUE(has_finding(all[0], finding::kDataDroppedAfterHandshake));
  EXPECT_TRUE(has_finding(all[0], finding::kUploadLost));
  EXPECT_TRUE(contains(all[0].summary, "over ESP (IP protocol 50) the handshake passed")) << all[0].summary;
  const std::string esp_advice = ipsec().advice_use_variant(probes::ProbeVariant{probes::Transport::ip, 50, true,
                                                                                  probes::ipsec::kPieceEsp});
  EXPECT_TRUE(contains(joined(all[0].advice), esp_advice)) << joined(all[0].advice);
  EXPECT_TRUE(contains(joined(all[0].advice), "encap=yes")) << joined(all[0].advice);
  EXPECT_FALSE(contains(joined(all[0].advice), std::string(ipsec().advice_signature_blocked)))
      << "no signature is involved: raw ESP's data is filtered as IP protocol 50";
}

TEST(IpsecDataPhase, RoutedPathDroppingFullSizeRawEspAdvisesTheMtu) {
  auto all = ipsec_with_data(false, kEspClean, schedule(6, {kEspSmall, true, true}, {kRawEspFull, false, false}));
  apply_data_phase(all, true, 1400);
  EXPECT_EQ(all[0].verdict, Verdict::restricted) << all[0].summary;
  EXPECT_TRUE(has_finding(all[0], finding::kFullSizePacketsDropped));
  EXPECT_TRUE(has_finding(all[0], finding::kUploadLost));
  EXPECT_TRUE(contains(joined(all[0].advice), "IPsec: keep ESP packets within 1400 bytes")) << joined(all[0].advice);
  EXPECT_TRUE(contains(all[0].summary, "1480 bytes of IP payload")) << all[0].summary;
  EXPECT_TRUE(contains(all[0].summary, "carry DF")) << all[0].summary;
}

TEST(IpsecDataPhase, RoutedPathLosingFullSizeRawEspEchoesIsDownloadLoss) {
  auto all = ipsec_with_data(false, kEspClean, schedule(6, {kEspSmall, true, true}, {kRawEspFull, true, false}));
  apply_data_phase(all, true, std::nullopt);
  EXPECT_EQ(all[0].verdict, Verdict::restricted) << all[0].summary;
  EXPECT_TRUE(has_finding(all[0], finding::kFullSizePacketsDropped));
  EXPECT_TRUE(has_finding(all[0], finding::kDownloadLost));
}

// Behind NAT clients move ESP to UDP 4500: raw ESP's data says nothing.
TEST(IpsecDataPhase, BehindNatRawEspDataDoesNotDecide) {
  auto all = ipsec_with_data(true, kEspClean, schedule(6, {kEspSmall, false, false}, {kRawEspFull, false, false}));
  apply_data_phase(all, true, std::nullopt);
  EXPECT_EQ(all[0].verdict, Verdict::pass) << all[0].summary;
  EXPECT_TRUE(all[0].findings.empty());
  // NAT-T's own data still does.
  auto natt = ipsec_with_data(true, schedule(6, {kEspSmall, false, false}, {kNatTFull, false, false}), kRawClean);
  apply_data_phase(natt, true, std::nullopt);
  EXPECT_EQ(natt[0].verdict, Verdict::restricted);
  EXPECT_TRUE(has_finding(natt[0], finding::kDataDroppedAfterHandshake));
  EXPECT_TRUE(contains(joined(natt[0].advice), std::string(ipsec().advice_signature_blocked)));
}

// Without NAT clients never move to UDP 4500: NAT-T's data does not decide
// while raw ESP carries it.
TEST(IpsecDataPhase, RoutedPathNatTDataDoesNotDecideWhileRawEspCarriesData) {
  auto all = ipsec_with_data(false, schedule(6, {kEspSmall, false, false}, {kNatTFull, false, false}), kRawClean);
  apply_data_phase(all, true, std::nullopt);
  EXPECT_EQ(all[0].verdict, Verdict::pass) << all[0].summary;
  EXPECT_TRUE(all[0].findings.empty());
}

// Raw ESP's data not measured (a reflector that does not echo it): no
// claim either way, rather than NAT-T's standing in for it.
TEST(IpsecDataPhase, RoutedPathWithoutRawEspDataMakesNoClaim) {
  auto all = ipsec_with_data(false, schedule(6, {kEspSmall, false, false}, {kNatTFull, false, false}), std::nullopt);
  apply_data_phase(all, true, std::nullopt);
  EXPECT_EQ(all[0].verdict, Verdict::pass) << all[0].summary;
  EXPECT_TRUE(all[0].findings.empty());
}

// Partly measured on a lossy path: the pass stands, and says the data could not be checked.
TEST(IpsecDataPhase, RoutedPathWeakRawEspEvidenceIsNoFinding) {
  auto clean = ipsec_with_data(false, kEspClean, schedule(1, {kEspSmall, true, true}, {kRawEspFull, false, false}));
  apply_data_phase(clean, true, std::nullopt);
  EXPECT_EQ(clean[0].verdict, Verdict::restricted) << "strong on a clean path";
  auto all =
      ipsec_with_data(false, kEspClean, schedule(1, {kEspSmall, true, true}, {kRawEspFull, false, false}), true);
  apply_data_phase(all, true, std::nullopt);
  EXPECT_EQ(all[0].verdict, Verdict::pass) << all[0].summary;
  EXPECT_TRUE(all[0].findings.empty());
  EXPECT_TRUE(contains(all[0].summary, "could not be checked")) << all[0].summary;
}

}  // namespace
}  // namespace vpncheck::client
