#pragma once
// A loopback port where remote-write storage does not answer, for tests of deadlines: it either
// takes connections and reads what arrives without ever answering, or never takes them (its
// listen backlog is full, so the kernel drops the SYNs).

#include <atomic>
#include <cstdint>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tp::testing {

enum class BlackHole { kNeverAnswers, kNeverAccepts };

void PrintTo(BlackHole kind, std::ostream* out);

class BlackHoleStorage {
 public:
  explicit BlackHoleStorage(BlackHole kind);
  ~BlackHoleStorage();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The processor's send is under way: its request arrived (kNeverAnswers), or its connection
  // waits for the handshake (kNeverAccepts, SYN_SENT in /proc/net/tcp).
  bool sendInFlight() const;

 private:
  void readWhatArrives();

  const BlackHole kind_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::vector<int> fillers_;
  std::set<uint16_t> filler_ports_;
  std::vector<int> connections_;
  std::atomic<size_t> received_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace tp::testing
