#include "probes/pptp_client.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "probes/gre.h"
#include "probes/pptp.h"
#include "probes/pptp_module.h"
#include "probes/pptp_server.h"

namespace vpncheck::probes::pptp {
namespace {

using namespace conversation;

class Client : public ClientConversation {
 public:
  explicit Client(const Setup& setup) : setup_(setup), results_(setup.pieces.size()) {
    for (std::size_t i = 0; i < setup.pieces.size(); ++i) {
      if (setup.pieces[i].variant.piece == kPieceControl && !control_) control_ = i;
      if (setup.pieces[i].variant.piece == kPieceGre && !gre_) gre_ = i;
    }
    // Both pieces' digests would differ from what arrives by design: an ALG
    // rewrites the OCRQ's Call ID, every router the GRE datagram's IP header
    // (the reflector's parser checks the GRE/PPP content instead).
    for (auto& r : results_) r.digests = false;
  }

  Action step(const Event& e) override {
    now_ = e.now_ms;
    switch (state_) {
      case State::start: return start();
      case State::connecting: return on_connecting(e);
      case State::sending: return on_sending(e);
      case State::waiting: return on_waiting(e);
      case State::link_info: return on_link_info(e);
      case State::gre_opening:
      case State::gre_running: return on_gre(e);
      case State::stopping: return on_stopping(e);
      case State::finished: break;
    }
    return finish();
  }

 private:
  enum class State { start, connecting, sending, waiting, link_info, gre_opening, gre_running, stopping, finished };
  enum class Step { sccrq, ocrq };

  PieceResult& control() { return results_[*control_]; }
  bool gre_runnable() const { return gre_ && !setup_.pieces[*gre_].not_run; }
  std::string_view what() const { return step_ == Step::sccrq ? "SCCRQ" : "OCRQ"; }
  std::string port_text() const { return std::to_string(setup_.pieces[*control_].variant.port); }

  Action start() {
    if (!control_) {
      if (gre_runnable()) gre_not_run("needs the PPTP control connection, which is not part of this run");
      return finish();
    }
    if (const auto& why = setup_.pieces[*control_].not_run) {
      if (gre_runnable()) gre_not_run("needs the PPTP control connection, which could not be tested: " + *why);
      return finish();
    }
    state_ = State::connecting;
    return OpenStream{setup_.pieces[*control_].variant.port, *control_, frame_stream};
  }

  void gre_not_run(std::string why) {
    results_[*gre_].outcome = Outcome::not_run;
    results_[*gre_].detail = std::move(why);
  }

  // The control connection failed before the call was up: GRE cannot be keyed.
  Action fail(Outcome outcome, std::string detail) {
    control().outcome = outcome;
    control().detail = std::move(detail);
    if (gre_runnable())
      gre_not_run("needs the PPTP control connection on TCP " + port_text() + ", which failed (" + control().detail +
                  ")");
    return finish();
  }

  Action ask(Step step, Bytes request) {
    step_ = step;
    request_ = std::move(request);
    state_ = State::sending;
    return Send{stream_, request_, true};
  }

  Action on_connecting(const Event& e) {
    if (e.kind == Event::Kind::failed)
      return fail(e.outcome, e.outcome == Outcome::timeout ? "TCP connection not established" : e.detail);
    stream_ = e.channel;
    return ask(Step::sccrq, build_sccrq(setup_.pieces[*control_].token));
  }

  Action on_sending(const Event& e) {
    if (e.kind == Event::Kind::failed) return fail(e.outcome, std::string(what()) + ": " + e.detail);
    state_ = State::waiting;
    return WaitUntil{setup_.deadline_ms};
  }

  Action on_waiting(const Event& e) {
    if (e.kind == Event::Kind::timer)
      return fail(Outcome::timeout, "connected, but no answer to the " + std::string(what()));
    if (e.kind == Event::Kind::failed) return fail(e.outcome, std::string(what()) + ": " + e.detail);
    if (e.kind != Event::Kind::message) return WaitUntil{setup_.deadline_ms};
    const bool valid = step_ == Step::sccrq ? is_sccrp_reply_to(e.message, request_)
                                            : is_ocrp_reply_to(e.message, request_);
    if (!valid)
      return fail(Outcome::invalid_reply, "the answer to the " + std::string(what()) + " was not a valid PPTP reply");
    ++control().steps_answered;
    if (step_ == Step::sccrq) {
      own_call_id_ = random_call_id(setup_.random);
      return ask(Step::ocrq, build_ocrq(setup_.pieces[*control_].token, own_call_id_, random_call_id(setup_.random)));
    }
    reflector_call_id_ = parse(e.message).message.call_id;
    control().outcome = Outcome::reply;
    control().reply_fields[std::string(kClientCallId)] = std::to_string(own_call_id_);
    control().reply_fields[std::string(kReflectorCallId)] = std::to_string(reflector_call_id_);
    // Real clients configure the link before data flows; it has no answer.
    state_ = State::link_info;
    return Send{stream_, build_set_link_info(reflector_call_id_), false};
  }

  Action on_link_info(const Event& e) {
    if (e.kind == Event::Kind::failed) {
      control().outcome = Outcome::reset;
      control().detail = "the connection broke after the OCRP";
      if (gre_runnable())
        gre_not_run("needs the PPTP control connection on TCP " + port_text() +
                    ", which broke before GRE could be sent");
      return finish();
    }
    if (!gre_runnable()) return stop();
    // GRE, while the control connection stays up.
    const auto remaining = std::max<std::int64_t>(0, setup_.deadline_ms - now_);
    OpenFlow flow;
    flow.transport = Transport::ip;
    flow.port = gre::kIpProtocol;
    flow.piece = *gre_;
    flow.deadline_ms = setup_.deadline_ms - std::min<std::int64_t>(kStopReserveMs, remaining / 4);
    flow.request = [token = setup_.pieces[*gre_].token, key = reflector_call_id_,
                    remote = setup_.remote](const IpPort& local) {
      return build_gre_datagram(token, key, IpPort{local.address, 0}, remote);
    };
    flow.answers = [own = own_call_id_](ByteView reply, ByteView request) {
      return is_gre_reply_datagram(reply, request, own);
    };
    // Then the call's data, keyed as GRE is (the client's runner skips it
    // where the reflector does not echo PPTP's data).
    flow.data = OpenFlow::DataKeys{reflector_call_id_, own_call_id_};
    results_[*gre_].reply_fields[std::string(kGreKey)] = std::to_string(reflector_call_id_);
    results_[*gre_].reply_fields[std::string(kExpectedCallId)] = std::to_string(own_call_id_);
    state_ = State::gre_opening;
    return flow;
  }

  Action on_gre(const Event& e) {
    if (state_ == State::gre_opening && e.kind == Event::Kind::opened) {
      flow_ = e.channel;
      state_ = State::gre_running;
      return WaitUntil{setup_.deadline_ms};
    }
    const bool on_flow = state_ == State::gre_running && e.channel == flow_;
    auto& gre = results_[*gre_];
    if (on_flow && e.kind == Event::Kind::message) {
      gre.outcome = Outcome::reply;
      gre.steps_answered = 1;
      return stop();
    }
    if ((on_flow || state_ == State::gre_opening) && e.kind == Event::Kind::failed) {
      gre.outcome = e.outcome;
      gre.detail = e.detail;
      return stop();
    }
    if (e.kind == Event::Kind::failed) stream_broken_ = true;  // the control connection; GRE goes on
    if (e.kind == Event::Kind::timer) {
      gre.outcome = Outcome::timeout;
      return stop();
    }
    return WaitUntil{setup_.deadline_ms};
  }

  // A clean end: StopCCRQ -> StopCCRP (bounded by the overall deadline).
  Action stop() {
    control().reply_fields[std::string(kStopAnswered)] = "false";
    if (stream_broken_) return finish();
    request_ = build_stop_ccrq();
    state_ = State::stopping;
    return Send{stream_, request_, false};
  }

  Action on_stopping(const Event& e) {
    if (e.kind == Event::Kind::failed && e.channel == stream_) return finish();
    if (e.kind == Event::Kind::timer) return finish();
    if (e.kind == Event::Kind::message && e.channel == stream_) {
      const bool answered = is_stop_ccrp_reply_to(e.message, request_);
      if (answered) ++control().steps_answered;
      control().reply_fields[std::string(kStopAnswered)] = answered ? "true" : "false";
      return finish();
    }
    return WaitUntil{setup_.deadline_ms};
  }

  Action finish() {
    state_ = State::finished;
    return Done{results_};
  }

  Setup setup_;
  std::vector<PieceResult> results_;
  std::optional<std::size_t> control_;
  std::optional<std::size_t> gre_;
  State state_ = State::start;
  Step step_ = Step::sccrq;
  Bytes request_;
  Channel stream_ = 0;
  Channel flow_ = 0;
  bool stream_broken_ = false;
  std::uint16_t own_call_id_ = 0;
  std::uint16_t reflector_call_id_ = 0;
  std::int64_t now_ = 0;
};

}  // namespace

std::unique_ptr<ClientConversation> start_client(const Setup& setup) { return std::make_unique<Client>(setup); }

}  // namespace vpncheck::probes::pptp
