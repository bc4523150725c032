#pragma once
// Runs a program as a child process for integration tests: captures its stderr and stdout,
// waits for a log line with a deadline (never a fixed sleep), signals it, collects its exit code.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
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

// A --queue.dir flag naming a fresh directory (removed when the test program exits): processors
// of concurrent tests never share a queue, which the queue would refuse.
std::string freshQueueDirFlag();

// Starts the processor with `args` (plus freshQueueDirFlag() unless they name one) and a free
// loopback port and waits until it serves with the
// cluster state loaded. Returns the port, or 0 after recording a test failure with its output.
uint16_t startProcessor(std::unique_ptr<ChildProcess>& processor, std::vector<std::string> args,
                        const std::vector<std::string>& env = {});
// SIGTERM, and expects exit code 0 within 20 s.
void stopProcessor(ChildProcess& processor);

}  // namespace tp::testing
