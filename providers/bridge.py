"""The host's address on the Docker bridge, which containers reach as their gateway.

Read from the network interface, not asked of the engine: the server needs it before it opens
its ports, and importing the docker SDK at every start would cost a fifth of a second.
"""

from __future__ import annotations

import fcntl
import socket
import struct

SIOCGIFADDR = 0x8915


def interface_address(interface: str = "docker0") -> str | None:
    """The IPv4 address of `interface`, or None when there is no such interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            request = struct.pack("256s", interface.encode()[:15])
            reply = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
        except OSError:
            return None
    return socket.inet_ntoa(reply[20:24])
