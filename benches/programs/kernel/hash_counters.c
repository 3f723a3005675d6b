/* hash_counters: per-flow counters in a BPF hash map. Sixteen keys are derived
 * from the IPv4 source address and the TCP ports (headers assumed at their usual
 * offsets, 54 bytes); each counter is created if missing and atomically
 * incremented. Returns the sum of the keys' low 16 bits (the same on every run,
 * whatever the counters hold), 0 if an insert failed, 1 (XDP_DROP) for a short
 * packet.
 */
#include "bench.h"

#define KEYS 16

struct {
	MAP_UINT(type, BPF_MAP_TYPE_HASH);
	MAP_UINT(max_entries, 1024);
	MAP_TYPE(key, u32);
	MAP_TYPE(value, u64);
} flow_counters SEC(".maps");

SEC("xdp") int hash_counters(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct tcphdr *tcp = (void *)(ip + 1);
	u32 base, acc = 0;

	if ((void *)(tcp + 1) > data_end)
		return 1;
	base = ip->saddr ^ ((u32)tcp->source << 16) ^ tcp->dest;
	for (u32 i = 0; i < KEYS; i++) {
		u32 key = base ^ (i * 0x9e3779b1u);
		u64 zero = 0;
		u64 *count = bpf_map_lookup_elem(&flow_counters, &key);

		if (!count) {
			bpf_map_update_elem(&flow_counters, &key, &zero, BPF_NOEXIST);
			count = bpf_map_lookup_elem(&flow_counters, &key);
			if (!count)
				return 0;
		}
		__sync_fetch_and_add(count, 1);
		acc += key & 0xffff;
	}
	return acc;
}
