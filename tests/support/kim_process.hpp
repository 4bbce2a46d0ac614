// Runs the real `kim` binary for system tests: as a server in the background, or as a command
// whose output is captured.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "support/paths.hpp"

namespace kim::test {

// A loopback port that was free a moment ago (bound to 127.0.0.1:0 and released).
std::uint16_t free_port();

// A fresh folder under the system temp folder, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);

class KimProcess {
 public:
  // Starts `binary args...` with stdout and stderr appended to `log_file`, in this process's
  // environment with `environment` ("NAME=value") added or replacing a variable of that name.
  KimProcess(const std::string& binary, const std::vector<std::string>& args,
             std::filesystem::path log_file, const std::vector<std::string>& environment = {});
  // Kills the process if it still runs.
  ~KimProcess();
  KimProcess(const KimProcess&) = delete;
  KimProcess& operator=(const KimProcess&) = delete;

  // Polls GET /health until it answers 200, the process exits, or `timeout` passes.
  bool wait_ready(std::uint16_t port, std::chrono::seconds timeout = std::chrono::seconds(60));
  void send_signal(int signal);
  // The exit code (or 128 + signal when killed by one); nothing if still running at timeout.
  std::optional<int> wait_exit(std::chrono::seconds timeout = std::chrono::seconds(30));
  // Whether the process was seen to exit (by wait_ready or wait_exit).
  bool exited() const { return exit_code_.has_value(); }
  std::string log() const { return read_file(log_file_); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_file_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs the command to completion and captures its standard output and error.
CommandResult run_command(const std::string& binary, const std::vector<std::string>& args);

}  // namespace kim::test
