/* memory_a_plus_b: two u32 loads from mem and one add.
 * mem: u32 a at offset 0, u32 b at offset 4 (little endian). Returns (u64)a + b.
 */
#include "vm.h"

u64 bpf_main(void *mem)
{
	const u32 *p = mem;
	return (u64)p[0] + (u64)p[1];
}
