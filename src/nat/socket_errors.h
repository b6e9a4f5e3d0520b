// ICMP errors the kernel queued on a UDP socket with IP_RECVERR or
// IPV6_RECVERR (ip(7), ipv6(7)): read without privilege, for the path-MTU
// test ("fragmentation needed"), the hop trace and the path walk ("time
// exceeded").
#pragma once

#include <ctime>
#include <linux/errqueue.h>  // after <ctime>: it needs struct timespec

#include <optional>
#include <string>

#include "src/nat/port_mapping.h"

namespace vpncheck::nat {

struct QueuedError {
  sock_extended_err info{};       // ee_errno, ee_origin, ee_type, ee_code, ee_info (an MTU for EMSGSIZE)
  std::optional<Ipv4> offender;   // who sent the ICMP (SO_EE_OFFENDER); nullopt for a local error
};

// The next error queued on `fd` (an IPv4 UDP socket), never blocking; nullopt
// when none is queued.
std::optional<QueuedError> next_queued_error(int fd);

// Either family: ee_origin is SO_EE_ORIGIN_ICMP or SO_EE_ORIGIN_ICMP6 for an
// ICMP error, and the offender is written out ("192.0.2.1", "2001:db8::1").
struct QueuedIcmpError {
  sock_extended_err info{};
  std::string offender;  // empty for a local error
};
std::optional<QueuedIcmpError> next_queued_icmp_error(int fd);

}  // namespace vpncheck::nat
