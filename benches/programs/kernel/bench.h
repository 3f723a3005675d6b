/* Shared definitions for the kernel suite: XDP programs that the Linux verifier
 * accepts, run through BPF_PROG_TEST_RUN on the packets that kernel_packet() in
 * benches/src/kernel_suite.rs builds. Written for this project (no libbpf headers).
 */
#ifndef IRONBPF_BENCH_KERNEL_H
#define IRONBPF_BENCH_KERNEL_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define INLINE static inline __attribute__((always_inline))
#define NOINLINE static __attribute__((noinline))

/* The XDP context, as the kernel's uapi struct xdp_md lays it out. */
struct xdp_md {
	u32 data;
	u32 data_end;
	u32 data_meta;
	u32 ingress_ifindex;
	u32 rx_queue_index;
	u32 egress_ifindex;
};

/* Helper ids from the kernel's uapi enum bpf_func_id. */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
				   u64 flags) = (void *)2;

#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2

/* BTF-defined maps: each attribute is encoded in the member's type, as the loader
 * (ours, libbpf) reads it from BTF. */
#define MAP_UINT(name, val) int (*name)[val]
#define MAP_TYPE(name, val) typeof(val) *name

/* Network headers, all fields in network byte order. */
struct ethhdr {
	u8 h_dest[6];
	u8 h_source[6];
	u16 h_proto;
} __attribute__((packed));

struct iphdr {
	u8 ihl_version; /* ihl in the low nibble on little-endian hosts */
	u8 tos;
	u16 tot_len;
	u16 id;
	u16 frag_off;
	u8 ttl;
	u8 protocol;
	u16 check;
	u32 saddr;
	u32 daddr;
};

struct tcphdr {
	u16 source;
	u16 dest;
	u32 seq;
	u32 ack_seq;
	u16 flags; /* doff in the top nibble of the first byte */
	u16 window;
	u16 check;
	u16 urg_ptr;
};

#define ETH_P_IP_BE 0x0008 /* htons(0x0800) */
#define IPPROTO_TCP 6

#define bswap16(x) __builtin_bswap16(x)
#define bswap32(x) __builtin_bswap32(x)

char LICENSE[] SEC("license") = "GPL";

#endif
