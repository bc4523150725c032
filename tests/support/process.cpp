#include "support/process.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

extern char** environ;

namespace tp::testing {

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args,
                           const std::vector<std::string>& extra_env) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> env_storage;
  for (char** entry = environ; *entry != nullptr; ++entry) env_storage.emplace_back(*entry);
  env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> argv{const_cast<char*>(program.c_str())};
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    // The test runner may block signals; the child must see SIGTERM as a real process would.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(program.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  reader_ = std::thread([this, fd = pipe_fds[0]] { readOutput(fd); });
}

ChildProcess::~ChildProcess() {
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    waitForExit(std::chrono::seconds(10));
  }
  if (reader_.joinable()) reader_.join();
}

void ChildProcess::readOutput(int fd) {
  char chunk[4096];
  while (true) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) break;
    std::lock_guard lock(mutex_);
    output_.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  output_closed_.store(true);
}

std::optional<std::string> ChildProcess::waitForOutput(const std::string& pattern,
                                                       std::chrono::milliseconds timeout) {
  const std::regex expression(pattern);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex_);
      std::smatch match;
      if (std::regex_search(output_, match, expression)) {
        return match.size() > 1 ? match[1].str() : match[0].str();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

void ChildProcess::signal(int signal_number) { ::kill(pid_, signal_number); }

std::optional<int> ChildProcess::waitForExit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      // Let the reader drain what the process wrote last (bounded: a daemon it started may
      // hold the pipe open).
      const auto drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (!output_closed_.load() && std::chrono::steady_clock::now() < drain_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return exit_code_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

std::string ChildProcess::output() {
  std::lock_guard lock(mutex_);
  return output_;
}

std::string processorBinary() { return TP_PROCESSOR_BINARY; }

std::string freshQueueDirFlag() {
  static struct Scratch {
    std::mutex mutex;
    std::vector<std::filesystem::path> dirs;
    ~Scratch() {
      std::error_code ignored;
      for (const auto& dir : dirs) std::filesystem::remove_all(dir, ignored);
    }
  } scratch;
  std::string pattern = (std::filesystem::temp_directory_path() / "tp-queue-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  std::lock_guard lock(scratch.mutex);
  scratch.dirs.emplace_back(pattern);
  return "--queue.dir=" + pattern;
}

uint16_t startProcessor(std::unique_ptr<ChildProcess>& processor, std::vector<std::string> args,
                        const std::vector<std::string>& env) {
  using namespace std::chrono_literals;
  const bool names_queue = std::any_of(args.begin(), args.end(), [](const std::string& arg) {
    return arg.starts_with("--queue.dir=");
  });
  if (!names_queue) args.push_back(freshQueueDirFlag());
  args.insert(args.begin(), {"--httpPort=0", "--http.listenAddress=127.0.0.1"});
  processor = std::make_unique<ChildProcess>(processorBinary(), args, env);
  const auto port = processor->waitForOutput(R"(listening on 127\.0\.0\.1:(\d+))", 20s);
  if (!port) {
    ADD_FAILURE() << "the processor did not start: " << processor->output();
    return 0;
  }
  if (!processor->waitForOutput("cluster state loaded", 20s)) {
    ADD_FAILURE() << "the processor did not load the cluster state: " << processor->output();
    return 0;
  }
  return static_cast<uint16_t>(std::stoi(*port));
}

void stopProcessor(ChildProcess& processor) {
  using namespace std::chrono_literals;
  processor.signal(SIGTERM);
  EXPECT_EQ(processor.waitForExit(20s), 0) << processor.output();
}

}  // namespace tp::testing
