#include "reflector/privilege.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vpncheck::reflector {
namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// capset/capget by raw syscall: no libcap needed.
bool set_caps(std::uint64_t permitted, std::uint64_t effective) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  data[0].permitted = static_cast<std::uint32_t>(permitted);
  data[1].permitted = static_cast<std::uint32_t>(permitted >> 32);
  data[0].effective = static_cast<std::uint32_t>(effective);
  data[1].effective = static_cast<std::uint32_t>(effective >> 32);
  return ::syscall(SYS_capset, &header, data) == 0;
}

// Every capability held in any of the permitted, effective or inheritable sets.
std::optional<std::uint64_t> held_caps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return std::nullopt;
  std::uint64_t held = 0;
  for (int i = 0; i < 2; ++i)
    held |= static_cast<std::uint64_t>(data[i].effective | data[i].permitted | data[i].inheritable) << (32 * i);
  return held;
}

}  // namespace

std::optional<std::string> switch_user(const std::string& user) {
  if (::geteuid() != 0)
    return "--user " + user + " needs the reflector to start as root (it runs as uid " +
           std::to_string(::geteuid()) + "); under the systemd unit, which runs it as a dynamic user, leave --user out";
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0) return "--user " + user + ": cannot look up the user: " + std::strerror(rc);
  if (found == nullptr) return "--user " + user + ": no such user";
  const uid_t uid = pw.pw_uid;
  const gid_t gid = pw.pw_gid;
  if (uid == 0) return "--user " + user + ": that is root; name an unprivileged user";

  if (::setgroups(1, &gid) != 0) return errno_text("setgroups");
  if (::setresgid(gid, gid, gid) != 0) return errno_text("setresgid");
  if (::setresuid(uid, uid, uid) != 0) return errno_text("setresuid");

  // Without PR_SET_KEEPCAPS the switch away from uid 0 cleared every capability.
  // Verify rather than trust: no way back to root, and no capability beyond `keep`.
  uid_t r = 0, e = 0, s = 0;
  gid_t rg = 0, eg = 0, sg = 0;
  if (::getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid)
    return "--user " + user + ": the uid did not change";
  if (::getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid)
    return "--user " + user + ": the gid did not change";
  if (::setuid(0) == 0) return "--user " + user + ": could regain root after the switch";
  auto caps = held_caps();
  if (!caps || *caps != 0) return "--user " + user + ": capabilities remain after the switch";
  return std::nullopt;
}

std::optional<std::string> drop_all_capabilities() {
  // Lowering permitted clears the ambient set too (capabilities(7)); clearing
  // it first says so explicitly. EINVAL: a kernel without ambient capabilities.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) != 0 && errno != EINVAL)
    return errno_text("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  if (!set_caps(0, 0)) return errno_text("capset(none)");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0) return errno_text("prctl(PR_SET_NO_NEW_PRIVS)");
  auto caps = held_caps();
  if (!caps || *caps != 0) return "capabilities remain after dropping them all";
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, static_cast<long>(cap), 0L, 0L) == 1)
      return "an ambient capability remains after dropping them all";
  return std::nullopt;
}

}  // namespace vpncheck::reflector
