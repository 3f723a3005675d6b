/* prime: count the primes below 10^4 by trial division. Ignores mem. */
#include "vm.h"

#define PRIME_LIMIT 10000

u64 bpf_main(void *mem)
{
	u64 count = 0;

	(void)mem;
	for (u64 n = 2; n < PRIME_LIMIT; n++) {
		u64 is_prime = 1;

		for (u64 d = 2; d * d <= n; d++) {
			if (n % d == 0) {
				is_prime = 0;
				break;
			}
		}
		count += is_prime;
	}
	return count;
}
