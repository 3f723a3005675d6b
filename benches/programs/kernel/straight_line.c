/* straight_line: a long branch-free ALU block: 48 rounds of a four-lane mixing
 * function (add, xor, rotate, multiply on u64), seeded from the first 32 bytes of
 * the packet. Returns the four lanes xor-folded to u32, or 1 (XDP_DROP) for a
 * short packet.
 */
#include "bench.h"

#define ROTL(x, r) (((x) << (r)) | ((x) >> (64 - (r))))
#define ROUND(k)                                   \
	do {                                       \
		a += b;                            \
		d ^= a;                            \
		d = ROTL(d, 32 - (k) % 17);        \
		c += d * 0x9e3779b97f4a7c15ull;    \
		b ^= c;                            \
		b = ROTL(b, 24 - (k) % 11);        \
		a ^= (u64)(k) * 0xbf58476d1ce4e5b9ull; \
	} while (0)
#define ROUNDS8(k)                                          \
	ROUND(k); ROUND(k + 1); ROUND(k + 2); ROUND(k + 3); \
	ROUND(k + 4); ROUND(k + 5); ROUND(k + 6); ROUND(k + 7)

SEC("xdp") int straight_line(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	u64 *seed = data;
	u64 a, b, c, d, folded;

	if ((void *)(seed + 4) > data_end)
		return 1;
	a = seed[0];
	b = seed[1];
	c = seed[2];
	d = seed[3];
	ROUNDS8(0);
	ROUNDS8(8);
	ROUNDS8(16);
	ROUNDS8(24);
	ROUNDS8(32);
	ROUNDS8(40);
	folded = a ^ b ^ c ^ d;
	return (u32)(folded ^ (folded >> 32));
}
