/* xdp_trace: counts packets per IP protocol in a hash map and says what it
 * saw with bpf_trace_printk, the way people debug their first programs.
 * `ironbpf run examples/xdp_trace.o --data examples/telnet.pkt` shows the
 * trace line and the map entry the run created.
 */
#define SEC(name) __attribute__((section(name), used))

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

struct xdp_md {
	__u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)6;

struct {
	int (*type)[1];           /* BPF_MAP_TYPE_HASH */
	int (*max_entries)[256];
	__u32 *key;
	__u64 *value;
} per_protocol SEC(".maps");

SEC("xdp") int xdp_trace(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *data_end = (void *)(long)ctx->data_end;
	__u32 proto;
	__u64 one = 1, *count;

	if (data + 34 > data_end)
		return 2; /* XDP_PASS */
	proto = data[23];
	count = bpf_map_lookup_elem(&per_protocol, &proto);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&per_protocol, &proto, &one, 0);
	{
		const char fmt[] = "ip proto %u, %u bytes\n";
		bpf_trace_printk(fmt, sizeof(fmt), proto, (__u32)(data_end - data));
	}
	return 2;
}

char _license[] SEC("license") = "GPL";
