// SPDX-License-Identifier: Apache-2.0
// A small XDP firewall: parses Ethernet, IPv4 and TCP/UDP, drops TCP to
// port 23 (telnet) and UDP to port 19 (chargen), passes everything else.
// Every packet access sits behind a bounds check, as the verifier demands.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/in.h>

#define SEC(name) __attribute__((section(name), used))
#define bpf_htons(x) __builtin_bswap16(x)

static __attribute__((always_inline)) int blocked(__u8 proto, __u16 dport)
{
	return (proto == IPPROTO_TCP && dport == 23) ||
	       (proto == IPPROTO_UDP && dport == 19);
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u16 dport;

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	if (ip->ihl < 5)
		return XDP_ABORTED;
	void *l4 = (void *)ip + ip->ihl * 4;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) > data_end)
			return XDP_ABORTED;
		dport = bpf_htons(tcp->dest);
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) > data_end)
			return XDP_ABORTED;
		dport = bpf_htons(udp->dest);
	} else {
		return XDP_PASS;
	}
	return blocked(ip->protocol, dport) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
