// Privilege after start: the real binary, on loopback ephemeral ports, must
// hold no capability once its sockets are open, whether started as root, as
// root with --user, or as an unprivileged user given ambient capabilities the
// way the systemd unit starts it; an unknown user, or --user without root,
// must make it exit rather than run on.
#include <gtest/gtest.h>

#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reflector/config.h"

extern char** environ;

namespace vpncheck::reflector {
namespace {

using namespace std::chrono_literals;

// The fields of /proc/PID/status; empty if the process is gone.
std::map<std::string, std::string> proc_status(pid_t pid) {
  std::map<std::string, std::string> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    out[line.substr(0, colon)] = value;
  }
  return out;
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

const char* const kSetpriv = "/usr/bin/setpriv";

class Reflector {
 public:
  // `launcher`: words put before the binary (setpriv and its options).
  explicit Reflector(const std::vector<std::string>& extra, const std::vector<std::string>& launcher = {}) {
    std::vector<std::string> args = launcher;
    for (const std::string word : {VPNCHECK_REFLECTOR_BIN, "--listen", "127.0.0.1", "--control-port", "0",
                                   "--web-control-ports", "", "--udp-ports", "0", "--tcp-ports", "0",
                                   // no fixed ports: the test must not depend on what else the host runs
                                   "--nat-ports", ""})
      args.push_back(word);
    args.insert(args.end(), extra.begin(), extra.end());
    int out = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    if (out >= 0) ::posix_spawn_file_actions_adddup2(&actions, out, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    ::posix_spawn_file_actions_destroy(&actions);
    if (out >= 0) ::close(out);
  }
  ~Reflector() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::unlink(stderr_path_.c_str());
  }
  // What it wrote to stderr so far.
  std::string stderr_text() const {
    std::ifstream in(stderr_path_);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  // Waits (bounded) until its log says every socket is open, then returns
  // /proc/PID/status; empty if it exited first.
  std::map<std::string, std::string> status_once_started(std::chrono::milliseconds limit = 10s) {
    for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
      auto status = proc_status(pid_);
      if (status.empty() || status["State"].starts_with("Z")) return {};
      if (stderr_text().find("no capability kept") != std::string::npos) return status;
      std::this_thread::sleep_for(20ms);
    }
    return {};
  }
  pid_t pid() const { return pid_; }
  // Exit status if it exited by `limit`, else nullopt (still running).
  std::optional<int> wait_exit(std::chrono::milliseconds limit) {
    for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string stderr_path_ = "/tmp/vpncheck-privilege-test-" + std::to_string(::getpid()) + "-" +
                             std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".log";
};

void expect_no_capability(std::map<std::string, std::string>& status) {
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapAmb"})
    EXPECT_EQ(status[set], "0000000000000000") << set;
  EXPECT_EQ(status["NoNewPrivs"], "1");
}

TEST(ReflectorPrivilege, UserOptionIsParsed) {
  EXPECT_FALSE(parse_args({}).config->user);
  auto out = parse_args({"--user", "nobody"});
  ASSERT_TRUE(out.config);
  EXPECT_EQ(out.config->user, "nobody");
  EXPECT_EQ(parse_args({"--user", ""}).exit_code, 2);
}

TEST(ReflectorPrivilege, DropsToNobodyWithNoCapabilities) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: the binary must start privileged to drop";
  passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody' on this system";
  const std::string uid = std::to_string(nobody->pw_uid);
  const std::string gid = std::to_string(nobody->pw_gid);

  Reflector reflector({"--user", "nobody"});
  ASSERT_GT(reflector.pid(), 0);
  // Wait (bounded) until the process has switched uid; it starts as root.
  std::map<std::string, std::string> status;
  for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end;) {
    status = proc_status(reflector.pid());
    if (status.empty() || status["State"].starts_with("Z")) break;
    auto ids = words(status["Uid"]);
    if (!ids.empty() && ids[0] != "0") break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(status.empty()) << "the reflector is gone";
  ASSERT_FALSE(status["State"].starts_with("Z")) << "the reflector exited";
  EXPECT_EQ(words(status["Uid"]), (std::vector<std::string>{uid, uid, uid, uid}));  // real, effective, saved, fs
  EXPECT_EQ(words(status["Gid"]), (std::vector<std::string>{gid, gid, gid, gid}));
  EXPECT_EQ(words(status["Groups"]), (std::vector<std::string>{gid}));
  status = reflector.status_once_started();
  ASSERT_FALSE(status.empty()) << reflector.stderr_text();
  expect_no_capability(status);
  EXPECT_FALSE(reflector.wait_exit(0ms)) << "the reflector exited after dropping privileges";

  ASSERT_EQ(::kill(reflector.pid(), SIGTERM), 0);
  EXPECT_EQ(reflector.wait_exit(10s), 0) << "SIGTERM should end it cleanly";
}

TEST(ReflectorPrivilege, UnknownUserRefusesToRun) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Reflector reflector({"--user", "no-such-user-vpncheck"});
  ASSERT_GT(reflector.pid(), 0);
  EXPECT_EQ(reflector.wait_exit(10s), 1) << "must exit 1, never keep running as root";
}

// Started as root without --user (by hand, in a container): the uid stays 0,
// but the capabilities that make root powerful are gone once it serves.
TEST(ReflectorPrivilege, RootWithoutUserKeepsNoCapability) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Reflector reflector({"--raw-protocols", "gre"});
  ASSERT_GT(reflector.pid(), 0);
  auto status = reflector.status_once_started();
  ASSERT_FALSE(status.empty()) << reflector.stderr_text();
  EXPECT_EQ(words(status["Uid"])[1], "0");
  expect_no_capability(status);
  // It opened its raw listener before dropping CAP_NET_RAW.
  EXPECT_EQ(reflector.stderr_text().find("raw gre listener"), std::string::npos) << reflector.stderr_text();
  ASSERT_EQ(::kill(reflector.pid(), SIGTERM), 0);
  EXPECT_EQ(reflector.wait_exit(10s), 0);
}

// The systemd unit's way: an unprivileged uid with CAP_NET_RAW and
// CAP_NET_BIND_SERVICE ambient (AmbientCapabilities=). They must serve the
// start and be gone afterwards, ambient set included.
TEST(ReflectorPrivilege, AmbientCapabilitiesAreDroppedOnceSocketsAreOpen) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to grant capabilities";
  if (::access(kSetpriv, X_OK) != 0) GTEST_SKIP() << "no setpriv (util-linux) to start it as the unit does";
  passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody' on this system";
  Reflector reflector({"--raw-protocols", "gre"},
                      {kSetpriv, "--reuid=nobody", "--regid=" + std::to_string(nobody->pw_gid), "--clear-groups",
                       "--inh-caps=+net_raw,+net_bind_service", "--ambient-caps=+net_raw,+net_bind_service",
                       "--"});
  ASSERT_GT(reflector.pid(), 0);
  auto status = reflector.status_once_started();
  ASSERT_FALSE(status.empty()) << reflector.stderr_text();
  EXPECT_EQ(words(status["Uid"])[1], std::to_string(nobody->pw_uid));
  expect_no_capability(status);
  EXPECT_EQ(reflector.stderr_text().find("raw gre listener"), std::string::npos)
      << "the ambient CAP_NET_RAW should have opened it: " << reflector.stderr_text();
  ASSERT_EQ(::kill(reflector.pid(), SIGTERM), 0);
  EXPECT_EQ(reflector.wait_exit(10s), 0);
}

// --user needs root; unprivileged (under the unit's DynamicUser=, whose
// syscall filter forbids setuid anyway) it says so at once, before binding.
TEST(ReflectorPrivilege, UserWithoutRootSaysWhyAndExits) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to start it as another user";
  if (::access(kSetpriv, X_OK) != 0) GTEST_SKIP() << "no setpriv (util-linux)";
  passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody' on this system";
  Reflector reflector({"--user", "nobody"}, {kSetpriv, "--reuid=nobody", "--regid=" + std::to_string(nobody->pw_gid),
                                             "--clear-groups", "--"});
  ASSERT_GT(reflector.pid(), 0);
  EXPECT_EQ(reflector.wait_exit(10s), 1);
  EXPECT_NE(reflector.stderr_text().find("needs the reflector to start as root"), std::string::npos)
      << reflector.stderr_text();
}

}  // namespace
}  // namespace vpncheck::reflector
