/* loop1024: a bounded loop of 1024 iterations of a small hash step, seeded from
 * the TCP sequence number (its bytes as loaded). Returns the u32 hash, or 1
 * (XDP_DROP) for a short packet.
 */
#include "bench.h"

#define ITERATIONS 1024

SEC("xdp") int loop1024(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tcphdr *tcp = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
	u32 seed, acc = 0x811c9dc5u;

	if ((void *)(tcp + 1) > data_end)
		return 1;
	seed = tcp->seq;
#pragma clang loop unroll(disable)
	for (u32 i = 0; i < ITERATIONS; i++) {
		acc = (acc ^ (i + seed)) * 0x01000193u;
		acc ^= acc >> 15;
	}
	return acc;
}
