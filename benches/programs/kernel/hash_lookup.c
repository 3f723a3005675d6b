/* hash_lookup: 64 hash-map lookups in a bounded loop, over the same 64 keys
 * every run (the first run inserts them: key i holds i * 7). The measure of
 * bpf_map_lookup_elem from a program. Returns the sum of the values (14112),
 * 0 if an insert failed, 1 (XDP_DROP) for a short packet.
 */
#include "bench.h"

#define KEYS 64

struct {
	MAP_UINT(type, BPF_MAP_TYPE_HASH);
	MAP_UINT(max_entries, 1024);
	MAP_TYPE(key, u32);
	MAP_TYPE(value, u64);
} lookup_table SEC(".maps");

SEC("xdp") int hash_lookup(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	u64 sum = 0;

	if (data + sizeof(struct ethhdr) > data_end)
		return 1;
	for (u32 i = 0; i < KEYS; i++) {
		u32 key = i;
		u64 *value = bpf_map_lookup_elem(&lookup_table, &key);

		if (!value) {
			u64 v = i * 7;

			bpf_map_update_elem(&lookup_table, &key, &v, BPF_NOEXIST);
			value = bpf_map_lookup_elem(&lookup_table, &key);
			if (!value)
				return 0;
		}
		sum += *value;
	}
	return (u32)sum;
}
