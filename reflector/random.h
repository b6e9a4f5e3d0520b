// The production RandomFill: OpenSSL's CSPRNG. Session ids and tags must be
// unguessable (a tag is what lets a datagram be attributed to a session).
#pragma once

#include "probes/probe.h"

namespace vpncheck::reflector {

// Fills `out` from RAND_bytes. A CSPRNG that cannot produce bytes is not a
// condition the reflector can recover from: it aborts with a message.
void csprng_fill(std::span<std::uint8_t> out);

// The same CSPRNG as a probes::RandomFill, drawn in blocks: small draws (a
// probe's reply, a session id) cost no RAND_bytes call each.
probes::RandomFill csprng();

}  // namespace vpncheck::reflector
