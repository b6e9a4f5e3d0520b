// OpenVPN's verdict over its wire forms (probes/openvpn_assess.cpp): a
// middlebox that matches one form and not another makes the protocol
// restricted, with advice naming the form that gets through; a form the
// reflector did not answer for its own reasons is not judged, and keeps the
// protocol from passing.
#include <gtest/gtest.h>

#include "client_fixtures.h"
#include "probes/openvpn.h"
#include "src/report/json_report.h"
#include "src/verdict/reflector_limits.h"
#include "src/verdict/verdict.h"

namespace vpncheck::client {
namespace {

using fixtures::contains;
using fixtures::Fate;
using fixtures::has_finding;
using fixtures::is;
using fixtures::joined;
using fixtures::openvpn;
using probes::ProbeVariant;
using probes::Transport;

// A reflector that recognises every form.
probes::Capabilities every_form() { return fixtures::listening_everywhere(); }

// One from before the forms: it lists none.
probes::Capabilities older_reflector() {
  auto caps = fixtures::listening_everywhere();
  caps.pieces.clear();
  return caps;
}

ProtocolAssessment judge(const fixtures::FateFn& fate, const probes::Capabilities& caps = every_form()) {
  return assess(openvpn(), fixtures::scenario(openvpn(), caps, fate), true);
}

const probes::FormAssessment& form(const ProtocolAssessment& a, std::string_view name) {
  for (const auto& f : a.forms)
    if (f.form == name) return f;
  ADD_FAILURE() << "no form " << name;
  static const probes::FormAssessment none;
  return none;
}

bool is_plain(const ProbeVariant& v) { return v.piece == "plain"; }

TEST(OpenVpnForms, PassWhenEveryFormPasses) {
  auto a = judge(fixtures::everything(Fate::answered));
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  ASSERT_EQ(a.forms.size(), 5U);
  for (const auto& f : a.forms) EXPECT_EQ(f.verdict, Verdict::pass) << f.form << ": " << f.summary;
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_TRUE(is(*a.working_variant, Transport::udp, 1194));
  EXPECT_TRUE(contains(a.summary, "tls-crypt-v2")) << a.summary;
}

// The DPI box of the lab's dpi-openvpn-plain profile: the plain reset is
// dropped on every port, its same-size random control passes, every
// wrapped form gets through.
TEST(OpenVpnForms, PlainResetDpiIsRestrictedWithAdviceNamingTheFormThatPasses) {
  auto a = judge([](const ProbeVariant& v, ProbeKind k) {
    return is_plain(v) && k == ProbeKind::genuine ? Fate::dropped : Fate::answered;
  });
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  EXPECT_EQ(form(a, "plain").verdict, Verdict::blocked) << form(a, "plain").summary;
  EXPECT_EQ(form(a, "tls-crypt").verdict, Verdict::pass);
  EXPECT_TRUE(has_finding(a, finding::kSignatureBlocking)) << joined(a.findings);
  EXPECT_TRUE(contains(a.summary, "plain form")) << a.summary;
  ASSERT_FALSE(a.advice.empty());
  EXPECT_TRUE(contains(a.advice.front(), "`tls-crypt`")) << joined(a.advice);
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_TRUE(is(*a.working_variant, Transport::udp, 1194));
}

// Every form through TCP 443 only: the forms agree, and the advice is the
// place that passes.
TEST(OpenVpnForms, OnlyTcp443PassesInEveryForm) {
  auto a = judge([](const ProbeVariant& v, ProbeKind) { return is(v, Transport::tcp, 443) ? Fate::answered : Fate::dropped; });
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  for (const auto& f : a.forms) EXPECT_EQ(f.verdict, Verdict::restricted) << f.form;
  ASSERT_TRUE(a.working_variant.has_value());
  EXPECT_TRUE(is(*a.working_variant, Transport::tcp, 443));
  EXPECT_TRUE(contains(joined(a.advice), "TCP on port 443")) << joined(a.advice);
  EXPECT_TRUE(contains(a.summary, "every form")) << a.summary;
}

// Only tls-crypt's encrypted reset gets through (a box matching the opcode
// of clear resets); its advice is to add tls-crypt.
TEST(OpenVpnForms, OnlyTlsCryptPasses) {
  auto a = judge([](const ProbeVariant& v, ProbeKind k) {
    const bool encrypted = v.piece == "tls-crypt";
    return k == ProbeKind::genuine && !encrypted ? Fate::dropped : Fate::answered;
  });
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  EXPECT_EQ(form(a, "tls-crypt").verdict, Verdict::pass);
  EXPECT_EQ(form(a, "tls-auth").verdict, Verdict::blocked);
  EXPECT_EQ(form(a, "tls-crypt-v2").verdict, Verdict::blocked);
  EXPECT_TRUE(contains(a.advice.front(), "Add `tls-crypt`")) << joined(a.advice);
}

// A form the reflector recorded but did not answer (it withheld a reply
// larger than the request from an address the session had not validated)
// is not judged, and the protocol is not `pass`.
TEST(OpenVpnForms, AWithheldFormIsInconclusiveNotBlocked) {
  auto results = fixtures::scenario(openvpn(), every_form(), [](const ProbeVariant& v, ProbeKind k) {
    return is_plain(v) && k == ProbeKind::genuine ? Fate::arrived_only : Fate::answered;
  });
  for (auto& r : results)
    if (is_plain(r.probe.variant) && r.probe.kind == ProbeKind::genuine)
      for (auto& o : r.arrivals)
        o.reply = {false, "", 0, "reply larger than request refused", std::string(probes::reply_code::kAmplification)};
  auto a = assess(openvpn(), results, true);
  EXPECT_EQ(form(a, "plain").verdict, Verdict::inconclusive) << form(a, "plain").summary;
  EXPECT_EQ(a.verdict, Verdict::inconclusive) << a.summary;
  EXPECT_TRUE(contains(a.summary, "could not be judged")) << a.summary;
  EXPECT_FALSE(has_finding(a, finding::kReturnPathBlocked)) << joined(a.findings);

  // Without the withholding, the same arrivals are a return path that drops answers.
  auto honest = judge([](const ProbeVariant& v, ProbeKind k) {
    return is_plain(v) && k == ProbeKind::genuine ? Fate::arrived_only : Fate::answered;
  });
  EXPECT_EQ(honest.verdict, Verdict::restricted) << honest.summary;
  EXPECT_EQ(form(honest, "plain").verdict, Verdict::outbound_only);
}

// An older reflector knows only the tls-auth form: the others are not run,
// and the verdict is tls-auth's, as before.
TEST(OpenVpnForms, AnOlderReflectorIsJudgedByTlsAuthAlone) {
  auto a = judge(fixtures::everything(Fate::answered), older_reflector());
  EXPECT_EQ(a.verdict, Verdict::pass) << a.summary;
  EXPECT_EQ(form(a, "tls-auth").verdict, Verdict::pass);
  EXPECT_EQ(form(a, "plain").verdict, Verdict::inconclusive);
  EXPECT_TRUE(contains(form(a, "plain").summary, "older vpncheck-reflector")) << form(a, "plain").summary;
  EXPECT_TRUE(contains(a.summary, "Not tried")) << a.summary;
}

TEST(OpenVpnForms, BlockedInEveryForm) {
  auto a = judge([](const ProbeVariant&, ProbeKind k) { return k == ProbeKind::genuine ? Fate::dropped : Fate::answered; });
  EXPECT_EQ(a.verdict, Verdict::blocked) << a.summary;
  EXPECT_TRUE(has_finding(a, finding::kSignatureBlocking));
  for (const auto& f : a.forms) EXPECT_EQ(f.verdict, Verdict::blocked) << f.form;
}

// The plain form through UDP and TCP, tls-auth only over TCP 443: the plain
// form is what passes on the standard port.
TEST(OpenVpnForms, NamesThePlainFormWhenOnlyItPassesOnTheStandardPort) {
  auto a = judge([](const ProbeVariant& v, ProbeKind k) {
    if (k == ProbeKind::control || is_plain(v)) return Fate::answered;
    return is(v, Transport::tcp, 443) ? Fate::answered : Fate::dropped;
  });
  EXPECT_EQ(a.verdict, Verdict::restricted) << a.summary;
  EXPECT_TRUE(contains(a.advice.front(), "without `tls-auth`/`tls-crypt`")) << joined(a.advice);
}

TEST(OpenVpnForms, ReportCarriesEachFormsVerdict) {
  Report report;
  report.observations_read = true;
  report.protocols.push_back(judge([](const ProbeVariant& v, ProbeKind k) {
    return is_plain(v) && k == ProbeKind::genuine ? Fate::dropped : Fate::answered;
  }));
  auto doc = to_report_json(report);
  const auto& forms = doc.at("protocols").at(0).at("forms");
  EXPECT_EQ(forms.at("plain").at("verdict"), "blocked");
  EXPECT_EQ(forms.at("tls-crypt").at("verdict"), "pass");
  EXPECT_EQ(forms.at("tls-crypt").at("working_variant"), "UDP 1194");
  EXPECT_EQ(doc.at("protocols").at(0).at("verdict"), "restricted");
}

}  // namespace
}  // namespace vpncheck::client
