/* Shared definitions for the VM suite.
 *
 * Every program in this folder is one function, `u64 bpf_main(void *mem)`, that a
 * userspace eBPF runtime calls with r1 = the input memory (see vm_input() in
 * benches/src/programs.rs for each program's layout). The same file is compiled
 * twice: for BPF (clang-19 -target bpf -mcpu=v4, see build.sh) and for the host
 * (benches/build.rs), where `bpf_main` is renamed per program by a -D define.
 *
 * Rules for BPF: a single function, no calls, no maps, no global data, no
 * relocations. Helpers are `static` and always inlined.
 */
#ifndef IRONBPF_BENCH_VM_H
#define IRONBPF_BENCH_VM_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define INLINE static inline __attribute__((always_inline))

/* 1 MiB: the size of each half of the memory in memcpy and strcmp_*. */
#define MIB (1u << 20)

u64 bpf_main(void *mem);

#endif
