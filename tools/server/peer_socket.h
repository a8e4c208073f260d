// Whether the client of a blocking (non-streamed) request is still there. cpp-httplib 0.11 does
// not give handlers their socket, so it is found among the process's descriptors by the
// connection's two ports, and probed with a non-blocking MSG_PEEK (0 bytes: the peer closed).
// Streamed answers need none of this: a failed write tells.
#pragma once

#include <string>

namespace duogen::server {

// The connected socket whose local and remote ports are these; -1 if none is found.
int find_connection_socket(int local_port, int remote_port);

// True when the peer has closed (or reset) the connection on `fd`.
bool peer_closed(int fd);

}  // namespace duogen::server
