/* ip_checksum: the Internet checksum (RFC 1071) over everything from the IPv4
 * header to the end of the packet, one 16-bit word per iteration of a bounded loop
 * (at most 1500 bytes). Returns the checksum as a big-endian number (the value a
 * checksum field would hold, read in network order).
 */
#include "bench.h"

#define MAX_WORDS 750

SEC("xdp") int ip_checksum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	u16 *word = data + sizeof(struct ethhdr);
	u64 sum = 0;

	for (u32 i = 0; i < MAX_WORDS; i++) {
		if ((void *)(word + 1) > data_end)
			break;
		sum += *word;
		word++;
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return bswap16((u16)~sum);
}
