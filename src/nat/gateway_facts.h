// What the default gateway said to the port-mapping queries, as the report
// keeps it. Plain data, no I/O (the queries are gateway.h).
#pragma once

#include <optional>
#include <string>

#include "src/nat/port_mapping.h"

namespace vpncheck::nat {

struct GatewayAnswer {
  bool answered = false;               // the protocol is spoken there
  std::optional<Ipv4> external_address;
  std::string detail;                  // e.g. the result code in words, or why nothing came
};

struct GatewayFacts {
  std::optional<Ipv4> gateway;  // nullopt: no IPv4 default route
  GatewayAnswer natpmp;
  GatewayAnswer pcp;
  GatewayAnswer upnp;
  std::string upnp_server;  // SSDP SERVER header, e.g. "... MiniUPnPd/2.3.1"
  // The external address the gateway reports (NAT-PMP, else UPnP, else PCP).
  std::optional<Ipv4> external_address() const {
    for (const auto* a : {&natpmp, &upnp, &pcp})
      if (a->external_address) return a->external_address;
    return std::nullopt;
  }
  bool any_answered() const { return natpmp.answered || pcp.answered || upnp.answered; }
};

}  // namespace vpncheck::nat
