#!/usr/bin/env python3
"""Writes the example packets: Ethernet + IPv4 + TCP, to port 23 and to port 80."""
import struct

def tcp_packet(dport):
    eth = bytes.fromhex("020000000002" "020000000001") + struct.pack("!H", 0x0800)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    tcp = struct.pack("!HHIIBBHHH", 40000, dport, 1, 0, 0x50, 0x02, 65535, 0, 0)
    return eth + ip + tcp

for name, port in (("telnet.pkt", 23), ("http.pkt", 80)):
    with open(name, "wb") as f:
        f.write(tcp_packet(port))
