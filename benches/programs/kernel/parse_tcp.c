/* parse_tcp: Ethernet / IPv4 / TCP header parsing with the bounds checks the
 * verifier demands. Returns (TCP payload length << 16) | TCP destination port for a
 * well-formed TCP/IPv4 frame, 1 (XDP_DROP) for a truncated one and 2 (XDP_PASS)
 * for anything that is not TCP over IPv4.
 */
#include "bench.h"

SEC("xdp") int parse_tcp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct tcphdr *tcp;
	u32 ihl, doff, tot_len;

	if ((void *)(eth + 1) > data_end)
		return 1;
	if (eth->h_proto != ETH_P_IP_BE)
		return 2;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return 1;
	if ((ip->ihl_version >> 4) != 4 || ip->protocol != IPPROTO_TCP)
		return 2;
	ihl = (ip->ihl_version & 0xf) * 4;
	if (ihl < sizeof(*ip))
		return 2;
	tcp = (void *)ip + ihl;
	if ((void *)(tcp + 1) > data_end)
		return 1;
	doff = (*(u8 *)&tcp->flags >> 4) * 4;
	if (doff < sizeof(*tcp))
		return 2;
	if ((void *)tcp + doff > data_end)
		return 1;
	tot_len = bswap16(ip->tot_len);
	if (tot_len < ihl + doff)
		return 2;
	return ((tot_len - ihl - doff) << 16) | bswap16(tcp->dest);
}
