/* call_chain: bpf-to-bpf calls. A chain of six non-inlined functions, each doing a
 * little arithmetic and calling the next, is called once for each of the first 32
 * 32-bit words of the payload (after 54 bytes of headers). Returns the u32 sum of
 * the chain's results, or 1 (XDP_DROP) for a short packet.
 */
#include "bench.h"

#define HEADERS 54
#define WORDS 32

NOINLINE u32 step6(u32 x)
{
	return (x ^ (x >> 13)) * 0x5bd1e995u;
}

NOINLINE u32 step5(u32 x)
{
	return step6(x + 0x7f4a7c15u) ^ x;
}

NOINLINE u32 step4(u32 x)
{
	return step5((x << 5) | (x >> 27)) + 17;
}

NOINLINE u32 step3(u32 x)
{
	return step4(x * 0x9e3779b1u) - (x >> 3);
}

NOINLINE u32 step2(u32 x)
{
	return step3(x ^ 0xdeadbeefu) + x;
}

NOINLINE u32 step1(u32 x)
{
	return step2(x + 1) ^ (x << 7);
}

SEC("xdp") int call_chain(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	u32 *words = data + HEADERS;
	u32 acc = 0;

	if ((void *)(words + WORDS) > data_end)
		return 1;
#pragma clang loop unroll(disable)
	for (u32 i = 0; i < WORDS; i++)
		acc += step1(words[i]);
	return acc;
}
