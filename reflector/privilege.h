// Dropping root after binding (issue #6): `vpncheck-reflector --user NAME`.
// The systemd unit does not need it (DynamicUser= and AmbientCapabilities=
// bind as an unprivileged user from the start); it is for a reflector started
// as root by hand or by another supervisor.
#pragma once

#include <optional>
#include <string>

namespace vpncheck::reflector {

struct PrivilegeDrop {
  std::string user;       // looked up with getpwnam_r
  bool keep_net_raw = false;  // raw listeners configured: keep CAP_NET_RAW only
};

// Switches the whole process to `drop.user`'s uid and primary gid
// (setgroups to that gid only, setresgid, setresuid), keeping no capability
// but CAP_NET_RAW when asked. Call once every socket is bound and before any
// other thread starts. Returns an error message if any step failed, or if
// afterwards the process could still regain root (then the caller must exit:
// it refuses to keep running as root).
std::optional<std::string> drop_privileges(const PrivilegeDrop& drop);

}  // namespace vpncheck::reflector
