#include "probes/translation.h"

#include <algorithm>

namespace vpncheck::probes {

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
  // Each message of a multi-message exchange arrives as its own record; one
  // is unchanged when it matches any message this probe sent.
  const auto& later = result.client.later_sent_sha256;
  auto sent_as_is = [&](const Observation& arrival) {
    return arrival.payload_sha256 == result.client.sent_sha256 ||
           std::find(later.begin(), later.end(), arrival.payload_sha256) != later.end();
  };
  for (const auto& arrival : result.arrivals) {
    if (!result.client.sent_sha256.empty() && !sent_as_is(arrival)) {
      t.payload_modified = true;
      t.modifications.push_back("payload changed in transit (" + std::to_string(result.client.sent_length) +
                                " bytes sent, " + std::to_string(arrival.payload_length) + " arrived, digest differs)");
      break;
    }
  }
  return t;
}

}  // namespace vpncheck::probes
