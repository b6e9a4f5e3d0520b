#include "src/verdict/translation.h"

namespace vpncheck::client {

std::optional<Translation> translate(const ProbeResult& result) {
  if (result.arrivals.empty()) return std::nullopt;
  const auto& first = result.arrivals.front();
  Translation t;
  t.sent_from = result.client.local;
  t.observed_as = first.source;
  t.ttl_at_reflector = first.ttl;
  t.tos_at_reflector = first.tos;
  if (t.sent_from) {
    if (t.sent_from->address != first.source.address) {
      t.address_translated = true;
      t.modifications.push_back("source address " + t.sent_from->address + " -> " + first.source.address);
    }
    if (t.sent_from->port != first.source.port) {
      t.port_translated = true;
      t.modifications.push_back("source port " + std::to_string(t.sent_from->port) + " -> " +
                                std::to_string(first.source.port));
    }
  }
  // Every copy of the request counts (UDP retransmits; any copy may be the
  // rewritten one). Multi-message exchanges (NAT-T's ESP-in-UDP and keepalive
  // after its IKE message, L2TP) send other bytes later under the same probe
  // index, so there only the first arrival is compared.
  const bool conversation = result.probe.module && result.probe.module->next_request;
  for (const auto& arrival : result.arrivals) {
    if (!result.client.sent_sha256.empty() && arrival.payload_sha256 != result.client.sent_sha256) {
      t.payload_modified = true;
      t.modifications.push_back("payload changed in transit (" + std::to_string(result.client.sent_length) +
                                " bytes sent, " + std::to_string(arrival.payload_length) + " arrived, digest differs)");
      break;
    }
    if (conversation) break;
  }
  return t;
}

}  // namespace vpncheck::client
