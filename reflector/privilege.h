// Privilege after binding. Every socket the reflector needs (ports below 1024,
// raw IP listeners) is opened at start; after that it needs no capability, so
// it keeps none: a flaw in a parser then cannot open raw sockets or bind
// ports. `--user NAME` also leaves uid 0; it is for a reflector started as root
// by hand or by another supervisor (the systemd unit runs it as a dynamic user
// with the two capabilities ambient only until this drop).
#pragma once

#include <optional>
#include <string>

namespace vpncheck::reflector {

// Switches the whole process to `user`'s uid and primary gid (setgroups to
// that gid only, setresgid, setresuid), keeping no capability. Call once every
// socket is bound and before any other thread starts. Returns an error message
// if the process is not root, if any step failed, or if afterwards it could
// still regain root (then the caller must exit: it refuses to keep running as
// root).
std::optional<std::string> switch_user(const std::string& user);

// Empties the permitted, effective, inheritable and ambient capability sets
// and sets no_new_privs, so no later execve or setuid file brings any back.
// Works for root and for an unprivileged user given ambient capabilities
// (the systemd unit). The process is single-threaded when this runs, and
// capability sets are per thread. Returns an error message if a capability
// remains.
std::optional<std::string> drop_all_capabilities();

}  // namespace vpncheck::reflector
