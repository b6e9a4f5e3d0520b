#include "reflector/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

namespace vpncheck::reflector {
namespace {

// Small draws come from a block drawn at once: across more than two blocks'
// worth of draws (a WireGuard answer's 92 bytes, an odd size that does not
// divide the block), no draw repeats another or is handed out wiped (zero).
TEST(ReflectorRandom, SmallDrawsAcrossBlocksAreNeverHandedOutTwice) {
  const auto fill = csprng();
  std::set<std::vector<std::uint8_t>> seen;
  constexpr std::size_t kDraw = 92;
  const std::size_t draws = 3 * 64 * 1024 / kDraw;
  for (std::size_t i = 0; i < draws; ++i) {
    std::vector<std::uint8_t> out(kDraw);
    fill(out);
    ASSERT_FALSE(std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0; })) << i;
    ASSERT_TRUE(seen.insert(out).second) << "draw " << i << " repeats an earlier one";
  }
}

// Larger draws go to RAND_bytes directly, between small ones from the block.
TEST(ReflectorRandom, LargeDrawsBetweenSmallOnesAreFreshToo) {
  const auto fill = csprng();
  std::vector<std::uint8_t> small_a(16), large(4096), small_b(16);
  fill(small_a);
  fill(large);
  fill(small_b);
  EXPECT_NE(small_a, small_b);
  EXPECT_NE(std::vector<std::uint8_t>(large.begin(), large.begin() + 16), small_a);
  EXPECT_NE(std::vector<std::uint8_t>(large.begin(), large.begin() + 16), small_b);
}

}  // namespace
}  // namespace vpncheck::reflector
