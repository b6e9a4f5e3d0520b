#pragma once
#include <string_view>
namespace vpncheck {
inline constexpr std::string_view kVersion = VPNCHECK_VERSION;
}
