/* The comparison shared by strcmp_full and strcmp_fail.
 * mem: 2 MiB; string a at [0, 1 MiB), string b at [1 MiB, 2 MiB), each with a
 * NUL in its last byte. Compares like strcmp and returns
 * (index where the comparison stopped << 32) | (u32)(a[i] - b[i]).
 */
#include "vm.h"

u64 bpf_main(void *mem)
{
	const u8 *a = mem;
	const u8 *b = (const u8 *)mem + MIB;
	u64 i = 0;

	while (a[i] != 0 && a[i] == b[i])
		i++;
	return (i << 32) | (u32)((int)a[i] - (int)b[i]);
}
