// ICMP errors the kernel queued on a UDP socket with IP_RECVERR (ip(7)):
// read without privilege, for the path-MTU test ("fragmentation needed") and
// the hop trace ("time exceeded").
#pragma once

#include <ctime>
#include <linux/errqueue.h>  // after <ctime>: it needs struct timespec

#include <optional>

#include "src/nat/port_mapping.h"

namespace vpncheck::nat {

struct QueuedError {
  sock_extended_err info{};       // ee_errno, ee_origin, ee_type, ee_code, ee_info (an MTU for EMSGSIZE)
  std::optional<Ipv4> offender;   // who sent the ICMP (SO_EE_OFFENDER); nullopt for a local error
};

// The next error queued on `fd` (an IPv4 UDP socket), never blocking; nullopt
// when none is queued.
std::optional<QueuedError> next_queued_error(int fd);

}  // namespace vpncheck::nat
