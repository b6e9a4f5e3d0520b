// An Asio address as the probe modules take it (probes::IpPort: 4 bytes for
// IPv4, 16 for IPv6, network order), for the client's I/O code.
#pragma once

#include <cstdint>

#include <boost/asio/ip/address.hpp>

#include "probes/probe.h"

namespace vpncheck::client {

inline probes::IpPort ip_port(const boost::asio::ip::address& address, std::uint16_t port) {
  probes::IpPort out{{}, port};
  if (address.is_v4()) {
    auto b = address.to_v4().to_bytes();
    out.address.assign(b.begin(), b.end());
  } else {
    auto b = address.to_v6().to_bytes();
    out.address.assign(b.begin(), b.end());
  }
  return out;
}

}  // namespace vpncheck::client
