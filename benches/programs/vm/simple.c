/* simple: the cost of entering and leaving the runtime. Returns a constant. */
#include "vm.h"

u64 bpf_main(void *mem)
{
	(void)mem;
	return 42;
}
