#!/usr/bin/env bash
# Rebuilds the bundled example object and its packets from source.
set -euo pipefail
cd "$(dirname "$0")"
clang-19 -O2 -g -target bpf -mcpu=v4 -I/usr/include/x86_64-linux-gnu -c xdp_firewall.c -o xdp_firewall.o
clang-19 -O2 -g -target bpf -mcpu=v4 -c xdp_trace.c -o xdp_trace.o
python3 make_packets.py
