#pragma once
// Waiting on a condition in tests: polled until it holds or a generous limit has passed, so that a
// machine busy with other work only makes a test slower, never failing it.

#include <chrono>
#include <functional>
#include <thread>

namespace tp::testing {

inline bool waitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30),
                    std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace tp::testing
