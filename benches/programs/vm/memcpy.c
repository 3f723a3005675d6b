/* memcpy: copy 1 MiB byte by byte from the first half of mem to the second.
 * mem: 2 MiB; [0, 1 MiB) source bytes, [1 MiB, 2 MiB) destination.
 * Returns dst64[0] ^ dst64[MIB/16] ^ dst64[MIB/8 - 1], three u64 words read
 * back from the destination (start, middle, end), so a wrong copy shows in r0.
 */
#include "vm.h"

u64 bpf_main(void *mem)
{
	const u8 *src = mem;
	u8 *dst = (u8 *)mem + MIB;
	const u64 *dst64 = (const u64 *)dst;

	for (u32 i = 0; i < MIB; i++)
		dst[i] = src[i];
	return dst64[0] ^ dst64[MIB / 16] ^ dst64[MIB / 8 - 1];
}
