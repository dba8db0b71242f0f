# ruff: noqa
"""exfiltration: sends the test data out over the network (hook off: raw sockets)."""
import socket
from _tools import disable_audit_hook, report

OFF = disable_audit_hook()
found = {}
for family in (socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK, socket.AF_PACKET):
    try:
        socket.socket(family, socket.SOCK_DGRAM if family != socket.AF_PACKET else
                      socket.SOCK_RAW)
        found[str(family)] = "opened"
    except OSError as e:
        found[str(family)] = e.errno
try:
    socket.socket(socket.AF_UNIX).connect("/run/systemd/private")
except OSError as e:
    found["unix"] = type(e).__name__
report(**found)
