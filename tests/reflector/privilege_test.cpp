// vpncheck-reflector --user (issue #6): the real binary, started as root on
// loopback ephemeral ports, must end up as the named user with no
// capability left; an unknown user must make it exit rather than run as root.
#include <gtest/gtest.h>

#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

class Reflector {
 public:
  explicit Reflector(const std::string& user) {
    std::vector<std::string> args = {VPNCHECK_REFLECTOR_BIN, "--listen", "127.0.0.1", "--control-port", "0",
                                     "--web-control-ports", "", "--udp-ports", "0", "--tcp-ports", "0",
                                     // no fixed ports: the test must not depend on what else the host runs
                                     "--nat-ports", "", "--user", user};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
  }
  ~Reflector() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
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
};

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

  Reflector reflector("nobody");
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
  EXPECT_EQ(status["CapEff"], "0000000000000000");
  EXPECT_EQ(status["CapPrm"], "0000000000000000");
  EXPECT_FALSE(reflector.wait_exit(0ms)) << "the reflector exited after dropping privileges";

  ASSERT_EQ(::kill(reflector.pid(), SIGTERM), 0);
  EXPECT_EQ(reflector.wait_exit(10s), 0) << "SIGTERM should end it cleanly";
}

TEST(ReflectorPrivilege, UnknownUserRefusesToRun) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Reflector reflector("no-such-user-vpncheck");
  ASSERT_GT(reflector.pid(), 0);
  EXPECT_EQ(reflector.wait_exit(10s), 1) << "must exit 1, never keep running as root";
}

}  // namespace
}  // namespace vpncheck::reflector
