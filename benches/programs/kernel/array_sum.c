/* array_sum: 256 array-map lookups in a bounded loop. Entry i is set to
 * i * seed (seed = the TCP sequence number, host order of its bytes as loaded,
 * or 1) and read back into a u64 sum. Returns (u32)(sum ^ (sum >> 32)), 0 if a
 * lookup failed, 1 (XDP_DROP) for a short packet.
 */
#include "bench.h"

#define ENTRIES 256

struct {
	MAP_UINT(type, BPF_MAP_TYPE_ARRAY);
	MAP_UINT(max_entries, ENTRIES);
	MAP_TYPE(key, u32);
	MAP_TYPE(value, u64);
} values SEC(".maps");

SEC("xdp") int array_sum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tcphdr *tcp = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
	u64 seed, sum = 0;

	if ((void *)(tcp + 1) > data_end)
		return 1;
	seed = tcp->seq | 1;
	for (u32 i = 0; i < ENTRIES; i++) {
		u32 key = i;
		u64 *value = bpf_map_lookup_elem(&values, &key);

		if (!value)
			return 0;
		*value = i * seed;
		sum += *value;
	}
	return (u32)(sum ^ (sum >> 32));
}
