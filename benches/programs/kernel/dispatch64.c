/* dispatch64: a 64-case switch on each of the first 128 payload bytes (after the
 * Ethernet, IPv4 and TCP headers, assumed 54 bytes), folding each into a u32
 * accumulator with one of eight operation shapes (k % 8). Returns the accumulator,
 * or 1 (XDP_DROP) when the packet is shorter than 54 + 128 bytes.
 */
#include "bench.h"

#define HEADERS 54
#define BYTES 128

#define SHAPE0(k) acc += b * ((k) + 3)
#define SHAPE1(k) acc ^= b << ((k) % 23 + 1)
#define SHAPE2(k) acc += (acc >> ((k) % 7 + 1)) | (k)
#define SHAPE3(k) acc -= b ^ ((k) * 0x9e37)
#define SHAPE4(k) acc = (acc << 1) + b + (k)
#define SHAPE5(k) acc += acc & ((k) * 7 + 1)
#define SHAPE6(k) acc = acc * 3 + (b | (k))
#define SHAPE7(k) acc ^= (acc >> ((k) % 5 + 1)) + b

SEC("xdp") int dispatch64(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	u8 *payload = data + HEADERS;
	u32 acc = 0;

	if ((void *)(payload + BYTES) > data_end)
		return 1;
#pragma clang loop unroll(disable)
	for (u32 i = 0; i < BYTES; i++) {
		u32 b = payload[i];

		switch (b & 63) {
		case 0: SHAPE0(0); break;
		case 1: SHAPE1(1); break;
		case 2: SHAPE2(2); break;
		case 3: SHAPE3(3); break;
		case 4: SHAPE4(4); break;
		case 5: SHAPE5(5); break;
		case 6: SHAPE6(6); break;
		case 7: SHAPE7(7); break;
		case 8: SHAPE0(8); break;
		case 9: SHAPE1(9); break;
		case 10: SHAPE2(10); break;
		case 11: SHAPE3(11); break;
		case 12: SHAPE4(12); break;
		case 13: SHAPE5(13); break;
		case 14: SHAPE6(14); break;
		case 15: SHAPE7(15); break;
		case 16: SHAPE0(16); break;
		case 17: SHAPE1(17); break;
		case 18: SHAPE2(18); break;
		case 19: SHAPE3(19); break;
		case 20: SHAPE4(20); break;
		case 21: SHAPE5(21); break;
		case 22: SHAPE6(22); break;
		case 23: SHAPE7(23); break;
		case 24: SHAPE0(24); break;
		case 25: SHAPE1(25); break;
		case 26: SHAPE2(26); break;
		case 27: SHAPE3(27); break;
		case 28: SHAPE4(28); break;
		case 29: SHAPE5(29); break;
		case 30: SHAPE6(30); break;
		case 31: SHAPE7(31); break;
		case 32: SHAPE0(32); break;
		case 33: SHAPE1(33); break;
		case 34: SHAPE2(34); break;
		case 35: SHAPE3(35); break;
		case 36: SHAPE4(36); break;
		case 37: SHAPE5(37); break;
		case 38: SHAPE6(38); break;
		case 39: SHAPE7(39); break;
		case 40: SHAPE0(40); break;
		case 41: SHAPE1(41); break;
		case 42: SHAPE2(42); break;
		case 43: SHAPE3(43); break;
		case 44: SHAPE4(44); break;
		case 45: SHAPE5(45); break;
		case 46: SHAPE6(46); break;
		case 47: SHAPE7(47); break;
		case 48: SHAPE0(48); break;
		case 49: SHAPE1(49); break;
		case 50: SHAPE2(50); break;
		case 51: SHAPE3(51); break;
		case 52: SHAPE4(52); break;
		case 53: SHAPE5(53); break;
		case 54: SHAPE6(54); break;
		case 55: SHAPE7(55); break;
		case 56: SHAPE0(56); break;
		case 57: SHAPE1(57); break;
		case 58: SHAPE2(58); break;
		case 59: SHAPE3(59); break;
		case 60: SHAPE4(60); break;
		case 61: SHAPE5(61); break;
		case 62: SHAPE6(62); break;
		case 63: SHAPE7(63); break;
		}
	}
	return acc;
}
