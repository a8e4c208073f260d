#include "peer_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <filesystem>

namespace duogen::server {
namespace {

int port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return -1;
}

}  // namespace

int find_connection_socket(int local_port, int remote_port) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (const std::logic_error&) {
      continue;
    }
    sockaddr_storage local{}, remote{};
    socklen_t n = sizeof(local), m = sizeof(remote);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &n) != 0) continue;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &m) != 0) continue;
    if (port_of(local) == local_port && port_of(remote) == remote_port) return fd;
  }
  return -1;
}

bool peer_closed(int fd) {
  if (fd < 0) return false;
  char byte = 0;
  const ssize_t got = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (got == 0) return true;
  return got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace duogen::server
