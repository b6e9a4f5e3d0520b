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

std::optional<std::uint64_t> effective_caps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(data[0].effective) | (static_cast<std::uint64_t>(data[1].effective) << 32);
}

}  // namespace

std::optional<std::string> drop_privileges(const PrivilegeDrop& drop) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(drop.user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0) return "--user " + drop.user + ": cannot look up the user: " + std::strerror(rc);
  if (found == nullptr) return "--user " + drop.user + ": no such user";
  const uid_t uid = pw.pw_uid;
  const gid_t gid = pw.pw_gid;
  if (uid == 0) return "--user " + drop.user + ": that is root; name an unprivileged user";

  if (drop.keep_net_raw && ::prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0)
    return errno_text("prctl(PR_SET_KEEPCAPS)");
  if (::setgroups(1, &gid) != 0) return errno_text("setgroups");
  if (::setresgid(gid, gid, gid) != 0) return errno_text("setresgid");
  if (::setresuid(uid, uid, uid) != 0) return errno_text("setresuid");

  // Without PR_SET_KEEPCAPS the switch away from uid 0 cleared every
  // capability; with it, permitted survived and is narrowed to CAP_NET_RAW.
  const std::uint64_t keep = drop.keep_net_raw ? (std::uint64_t{1} << CAP_NET_RAW) : 0;
  if (drop.keep_net_raw) {
    if (!set_caps(keep, keep)) return errno_text("capset(CAP_NET_RAW)");
    ::prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
  }

  // Verify rather than trust: no way back to root, and no capability beyond `keep`.
  uid_t r = 0, e = 0, s = 0;
  gid_t rg = 0, eg = 0, sg = 0;
  if (::getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid)
    return "--user " + drop.user + ": the uid did not change";
  if (::getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid)
    return "--user " + drop.user + ": the gid did not change";
  if (::setuid(0) == 0) return "--user " + drop.user + ": could regain root after the switch";
  auto caps = effective_caps();
  if (!caps || (*caps & ~keep) != 0) return "--user " + drop.user + ": capabilities beyond the needed ones remain";
  return std::nullopt;
}

}  // namespace vpncheck::reflector
