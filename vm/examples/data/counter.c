// SPDX-License-Identifier: Apache-2.0
// A libbpf-style XDP object for the test_runner example: a BTF-defined
// array map of per-class packet counters (TCP, UDP, other IPv4, not IPv4),
// bumped with atomic adds, and TCP to port 23 dropped. `unchecked` reads
// the packet without a bounds check: the verifier refuses it, naming the
// source line, and so is `oob`, which reads past the map value.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/in.h>

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define bpf_htons(x) __builtin_bswap16(x)

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} stats SEC(".maps");

enum { TCP, UDP, OTHER_IP, NOT_IP };

static __attribute__((always_inline)) void count(__u32 class)
{
	__u64 *n = bpf_map_lookup_elem(&stats, &class);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	if (eth->h_proto != bpf_htons(ETH_P_IP)) {
		count(NOT_IP);
		return XDP_PASS;
	}
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	if (ip->protocol == IPPROTO_TCP) {
		count(TCP);
		struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
		if ((void *)(tcp + 1) > data_end)
			return XDP_ABORTED;
		if (tcp->dest == bpf_htons(23))
			return XDP_DROP;
	} else if (ip->protocol == IPPROTO_UDP) {
		count(UDP);
	} else {
		count(OTHER_IP);
	}
	return XDP_PASS;
}

SEC("xdp")
int unchecked(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	return data[12] == 0x08 ? XDP_PASS : XDP_DROP;
}

// Reads far past the 8-byte counter: the verifier refuses it; run
// unverified, the fault names this line.
SEC("xdp")
int oob(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&stats, &key);
	if (!v)
		return XDP_PASS;
	return v[ctx->rx_queue_index + 100000] & 3;
}

char _license[] SEC("license") = "GPL";
