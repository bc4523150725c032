#include "support/black_hole_storage.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tp::testing {
namespace {

uint16_t localPort(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

}  // namespace

void PrintTo(BlackHole kind, std::ostream* out) {
  *out << (kind == BlackHole::kNeverAnswers ? "accepts, never answers" : "never accepts");
}

BlackHoleStorage::BlackHoleStorage(BlackHole kind) : kind_(kind) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener_, kind == BlackHole::kNeverAccepts ? 0 : 16) != 0) {
    throw std::runtime_error("cannot listen on loopback");
  }
  port_ = localPort(listener_);
  if (kind == BlackHole::kNeverAnswers) {
    thread_ = std::thread([this] { readWhatArrives(); });
    return;
  }
  // Connections nobody accepts fill the accept queue; from then on SYNs are dropped. The last
  // filler, left waiting for its handshake, shows the queue is full.
  for (int i = 0; i < 16; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    address.sin_port = htons(port_);
    ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    fillers_.push_back(fd);
    filler_ports_.insert(localPort(fd));
    pollfd connected{fd, POLLOUT, 0};
    if (::poll(&connected, 1, 500) == 0) return;
  }
  throw std::runtime_error("the listen backlog does not fill up");
}

BlackHoleStorage::~BlackHoleStorage() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  for (int fd : fillers_) ::close(fd);
  for (int fd : connections_) ::close(fd);
  ::close(listener_);
}

bool BlackHoleStorage::sendInFlight() const {
  if (kind_ == BlackHole::kNeverAnswers) return received_.load() > 0;
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    const auto portOf = [](const std::string& address) {
      return static_cast<uint16_t>(std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
    };
    if (state == "02" && portOf(remote) == port_ && !filler_ports_.contains(portOf(local))) {
      return true;
    }
  }
  return false;
}

void BlackHoleStorage::readWhatArrives() {
  while (!stopping_) {
    std::vector<pollfd> fds{{listener_, POLLIN, 0}};
    for (int fd : connections_) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      if (const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC); fd >= 0) {
        connections_.push_back(fd);
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t read = ::read(fds[i].fd, buffer, sizeof(buffer));
      if (read > 0) {
        received_ += static_cast<size_t>(read);
      } else {  // closed by the client
        ::close(fds[i].fd);
        std::erase(connections_, fds[i].fd);
      }
    }
  }
}

}  // namespace tp::testing
