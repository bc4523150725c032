#pragma once
// Runs a program as a child process for integration tests: captures its stderr and stdout,
// waits for a log line with a deadline (never a fixed sleep), signals it, collects its exit code.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace tp::testing {

class ChildProcess {
 public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::vector<std::string>& extra_env = {});
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // First match of `pattern` in the combined output within `timeout`; group 1 if it has one.
  std::optional<std::string> waitForOutput(const std::string& pattern,
                                           std::chrono::milliseconds timeout);
  void signal(int signal_number);
  // Exit code, or -signal when killed; nullopt when it has not exited within `timeout`.
  std::optional<int> waitForExit(std::chrono::milliseconds timeout);
  std::string output();
  pid_t pid() const { return pid_; }

 private:
  void readOutput(int fd);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::mutex mutex_;
  std::string output_;
  std::atomic<bool> output_closed_{false};
  std::thread reader_;
};

// Path of the processor binary under test, given to the test by CMake.
std::string processorBinary();

}  // namespace tp::testing
