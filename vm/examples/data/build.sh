#!/usr/bin/env bash
# Rebuilds the examples' bundled inputs from source: the libbpf-style object
# of the test_runner example, the C form of the plugin_host plugin and the
# packet_filter example's pcap.
set -euo pipefail
cd "$(dirname "$0")"
clang-19 -O2 -g -target bpf -mcpu=v4 -I/usr/include/x86_64-linux-gnu -c counter.c -o counter.o
clang-19 -O2 -g -target bpf -mcpu=v4 -c plugin.c -o plugin.o
python3 make_pcap.py
