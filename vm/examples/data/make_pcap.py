#!/usr/bin/env python3
"""Writes sample.pcap for the packet_filter example: 10 Ethernet frames.
xdp_firewall drops TCP to port 23 and UDP to port 19 (3 frames here),
aborts on a truncated IPv4 header (1 frame) and passes the other 6."""
import struct

ETH = bytes.fromhex("020000000002" "020000000001")

def ipv4(proto, payload):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return ETH + struct.pack("!H", 0x0800) + ip + payload

def tcp(dport):
    return ipv4(6, struct.pack("!HHIIBBHHH", 40000, dport, 1, 0, 0x50, 0x02, 65535, 0, 0))

def udp(dport):
    return ipv4(17, struct.pack("!HHHH", 40000, dport, 12, 0) + b"hiya")

frames = [
    tcp(80), tcp(23), tcp(443), udp(53), udp(19),
    tcp(23), ipv4(1, b"\x08\x00\x00\x00\x00\x00\x00\x00"),  # ICMP echo
    ETH + struct.pack("!H", 0x0806) + bytes(28),          # ARP
    ETH + struct.pack("!H", 0x0800) + bytes(10),          # truncated IPv4
    udp(123),
]

with open("sample.pcap", "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, fr in enumerate(frames):
        f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)))
        f.write(fr)
