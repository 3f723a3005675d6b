/* log2_int: branch-free floor(log2(x)) of 8192 u64 values, summed.
 * mem: 8192 little-endian u64. log2(0) counts as 0. Returns the sum.
 */
#include "vm.h"

#define LOG2_COUNT 8192

INLINE u64 log2_u64(u64 v)
{
	u64 r, s;

	r = (u64)(v > 0xffffffffULL) << 5;
	v >>= r;
	s = (u64)(v > 0xffff) << 4;
	v >>= s;
	r |= s;
	s = (u64)(v > 0xff) << 3;
	v >>= s;
	r |= s;
	s = (u64)(v > 0xf) << 2;
	v >>= s;
	r |= s;
	s = (u64)(v > 0x3) << 1;
	v >>= s;
	r |= s;
	return r | (v >> 1);
}

u64 bpf_main(void *mem)
{
	const u64 *values = mem;
	u64 sum = 0;

	for (u32 i = 0; i < LOG2_COUNT; i++)
		sum += log2_u64(values[i]);
	return sum;
}
