"""The listening socket makes accepted connections answer without Nagle's delay."""

from __future__ import annotations

import socket

from channelhub.cli.server import bind_listener


def test_listening_socket_is_tcp_so_answers_are_not_delayed() -> None:
    sock = bind_listener("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
