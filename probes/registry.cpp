#include "probes/registry.h"

#include <algorithm>
#include <array>

#include "probes/ip.h"
#include "probes/ipsec.h"
#include "probes/l2tp.h"
#include "probes/l2tp_ipsec.h"
#include "probes/openvpn.h"
#include "probes/pptp_module.h"
#include "probes/sstp.h"
#include "probes/wireguard.h"

namespace vpncheck::probes {
namespace {

constexpr std::array<const ProtocolModule*, 6> kProtocols{
    &wireguard::kModule,
    &openvpn::kModule,
    &ipsec::kModule,
    &l2tp::kModule,
    &pptp::kModule,
    &sstp::kModule,
};

constexpr std::array<const DerivedProtocol*, 1> kDerived{
    &l2tp_ipsec::kDerived,
};

}  // namespace

std::span<const ProtocolModule* const> all_protocols() { return kProtocols; }

std::span<const DerivedProtocol* const> derived_protocols() { return kDerived; }

const DerivedProtocol* find_derived_protocol(std::string_view id) {
  for (const auto* derived : kDerived)
    if (derived->id == id) return derived;
  return nullptr;
}

const ProtocolModule* find_protocol(std::string_view id) {
  for (const auto* module : kProtocols)
    if (module->id == id) return module;
  return nullptr;
}

std::span<const StreamFraming* const> stream_framings(bool inside_tls) {
  static const auto collect = [](bool tls) {
    std::vector<const StreamFraming*> out;
    for (const auto* module : kProtocols)
      for (const auto& v : module->variants)
        if (v.framing != nullptr && v.tls == tls && std::find(out.begin(), out.end(), v.framing) == out.end())
          out.push_back(v.framing);
    return out;
  };
  static const std::vector<const StreamFraming*> plain = collect(false);
  static const std::vector<const StreamFraming*> wrapped = collect(true);
  return inside_tls ? wrapped : plain;
}

std::vector<std::uint16_t> variant_ports(Transport transport) {
  std::vector<std::uint16_t> ports;
  for (const auto* module : kProtocols)
    for (const auto& v : module->variants)
      if (v.transport == transport) ports.push_back(v.port);
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

std::string_view to_string(Transport t) {
  switch (t) {
    case Transport::udp: return "udp";
    case Transport::tcp: return "tcp";
    case Transport::ip: return "ip";
  }
  return "udp";
}

std::optional<Transport> transport_from_string(std::string_view s) {
  if (s == "udp") return Transport::udp;
  if (s == "tcp") return Transport::tcp;
  if (s == "ip") return Transport::ip;
  return std::nullopt;
}

std::string describe_place(const ProbeVariant& v) {
  switch (v.transport) {
    case Transport::udp: return "UDP " + std::to_string(v.port);
    // A TLS-wrapped variant is named so: on the same port a plain one may run
    // (OpenVPN over TCP 443) and fare otherwise.
    case Transport::tcp: return (v.tls ? "TLS over TCP " : "TCP ") + std::to_string(v.port);
    case Transport::ip: break;
  }
  const auto* raw = ip::raw_protocol(v.port);
  return std::string(raw ? raw->display : "IP") + " (IP protocol " + std::to_string(v.port) + ")";
}

std::string ip_protocol_name(std::uint16_t protocol) {
  const auto* raw = ip::raw_protocol(protocol);
  return std::string(raw ? raw->name : "ip");
}

ProbeContext default_context(const ProtocolModule& module, const ProbeToken& token, const ServerHints& hints) {
  ProbeContext context;
  context.token = token;
  if (!module.variants.empty()) context.variant = module.variants.front();
  context.hints = hints;
  context.local = IpPort{{127, 0, 0, 1}, 40000};
  context.remote = IpPort{{127, 0, 0, 1}, context.variant.transport == Transport::ip ? std::uint16_t{0}
                                                                                      : context.variant.port};
  return context;
}

ArrivalContext default_arrival(const ServerHints& hints, Transport transport) {
  ArrivalContext arrival;
  arrival.hints = hints;
  arrival.transport = transport;
  arrival.source = IpPort{{127, 0, 0, 1}, 40000};
  arrival.destination = IpPort{{127, 0, 0, 1}, 0};
  return arrival;
}

Bytes build_request(const ProtocolModule& module, const ProbeToken& token, const ServerHints& hints,
                    const RandomFill& rnd) {
  return module.build_request(default_context(module, token, hints), rnd);
}

std::optional<ParsedRequest> parse_request(const ProtocolModule& module, ByteView payload, const ServerHints& hints) {
  return module.parse_request(payload, default_arrival(hints));
}

Bytes build_reply(const ProtocolModule& module, ByteView request, const ParsedRequest& parsed, const RandomFill& rnd,
                  const ServerHints& hints) {
  return module.build_reply(request, parsed, default_arrival(hints), rnd);
}

}  // namespace vpncheck::probes
