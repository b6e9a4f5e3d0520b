// libFuzzer target: the client's parsers of what the reflector's control API
// returns (a hostile network or reflector can send anything). Invariants:
// neither parser throws or crashes; a rejection always says why; anything
// accepted re-serialises to JSON that parses again to the same document.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_check.h"
#include "probes/observation.h"

namespace {

using namespace vpncheck::probes;

template <typename Parsed, typename Parser>
void check_parser(const std::string& body, Parser parse) {
  std::string error;
  std::optional<Parsed> parsed = parse(body, error);
  if (!parsed) {
    FUZZ_CHECK(!error.empty());
    return;
  }
  const std::string again = to_json(*parsed).dump();
  error.clear();
  std::optional<Parsed> reparsed = parse(again, error);
  FUZZ_CHECK(reparsed.has_value());
  FUZZ_CHECK(to_json(*reparsed).dump() == again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  check_parser<ObservationList>(body, observations_from_json);
  check_parser<SessionInfo>(body, session_info_from_json);
  return 0;
}
