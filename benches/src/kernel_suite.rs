//! The kernel suite: XDP programs that the Linux verifier accepts, each run on a
//! packet through `BPF_PROG_TEST_RUN`.
//!
//! The C sources and the committed objects sit in `benches/programs/kernel/`
//! (`build.sh` there rebuilds them). Every program runs on the packet
//! [`kernel_packet`] builds: an Ethernet / IPv4 / TCP frame (54 bytes of headers,
//! 10.0.0.1:40000 to 10.0.0.2:80, valid IPv4 header checksum) carrying
//! [`KERNEL_PAYLOAD_LEN`] deterministic payload bytes. [`kernel_expected`] gives each
//! program's return value, from a Rust reference implementation.

use std::path::PathBuf;

use crate::vm_suite::SplitMix64;
use crate::BenchError;

/// Payload bytes after the 54 bytes of headers in every kernel-suite packet.
pub const KERNEL_PAYLOAD_LEN: usize = 1024;

/// Bytes of Ethernet + IPv4 + TCP headers in the kernel-suite packet.
pub const HEADERS_LEN: usize = 54;

/// TCP ports of the kernel-suite packet.
pub const TCP_PORTS: (u16, u16) = (40000, 80);

/// TCP sequence number of the kernel-suite packet.
pub const TCP_SEQ: u32 = 0x1bad_b002;

/// One program of the kernel suite.
#[derive(Debug, Clone, Copy)]
pub struct KernelProgram {
    /// Program (and function) name, as in `benches/programs/kernel/NAME.c`.
    pub name: &'static str,
    /// The compiled BPF ELF object.
    pub object: &'static [u8],
    /// What the program measures, in one line.
    pub description: &'static str,
}

impl KernelProgram {
    /// Path of the committed object file (`benches/programs/kernel/NAME.o`).
    pub fn object_path(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("programs/kernel")
            .join(format!("{}.o", self.name))
    }
}

macro_rules! kernel_program {
    ($name:literal, $description:literal) => {
        KernelProgram {
            name: $name,
            object: include_bytes!(concat!("../programs/kernel/", $name, ".o")),
            description: $description,
        }
    };
}

/// The kernel suite, in the order reports list it.
pub const KERNEL_PROGRAMS: &[KernelProgram] = &[
    kernel_program!("parse_tcp", "Ethernet/IPv4/TCP header parsing"),
    kernel_program!("ip_checksum", "Internet checksum loop over 1044 bytes"),
    kernel_program!("dispatch64", "64-case switch on 128 payload bytes"),
    kernel_program!("hash_counters", "16 hash-map counter updates"),
    kernel_program!("hash_lookup", "64 hash-map lookups of present keys"),
    kernel_program!("array_sum", "256 array-map lookups in a bounded loop"),
    kernel_program!("call_chain", "32 chains of 6 bpf-to-bpf calls"),
    kernel_program!("loop1024", "bounded loop of 1024 iterations"),
    kernel_program!("straight_line", "900-instruction straight-line ALU block"),
];

/// Looks a kernel-suite program up by name.
pub fn kernel_program(name: &str) -> Result<&'static KernelProgram, BenchError> {
    KERNEL_PROGRAMS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| BenchError::UnknownProgram {
            suite: "kernel",
            name: name.to_string(),
        })
}

/// The RFC 1071 Internet checksum of `bytes` (an odd last byte is padded with zero).
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u64 = bytes
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds an Ethernet / IPv4 / TCP frame with `payload_len` deterministic payload bytes.
pub fn tcp_packet(payload_len: usize) -> Vec<u8> {
    let mut pkt = Vec::with_capacity(HEADERS_LEN + payload_len);
    // Ethernet: destination, source, EtherType IPv4.
    pkt.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    pkt.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    pkt.extend_from_slice(&0x0800u16.to_be_bytes());
    // IPv4: version 4, IHL 5, DF, TTL 64, TCP.
    let tot_len = (20 + 20 + payload_len) as u16;
    let ip_start = pkt.len();
    pkt.extend_from_slice(&[0x45, 0]);
    pkt.extend_from_slice(&tot_len.to_be_bytes());
    pkt.extend_from_slice(&0x1234u16.to_be_bytes());
    pkt.extend_from_slice(&0x4000u16.to_be_bytes());
    pkt.extend_from_slice(&[64, 6, 0, 0]);
    pkt.extend_from_slice(&[10, 0, 0, 1]);
    pkt.extend_from_slice(&[10, 0, 0, 2]);
    let check = internet_checksum(&pkt[ip_start..]);
    pkt[ip_start + 10..ip_start + 12].copy_from_slice(&check.to_be_bytes());
    // TCP: ports, sequence, no ack, data offset 5, PSH|ACK, window.
    pkt.extend_from_slice(&TCP_PORTS.0.to_be_bytes());
    pkt.extend_from_slice(&TCP_PORTS.1.to_be_bytes());
    pkt.extend_from_slice(&TCP_SEQ.to_be_bytes());
    pkt.extend_from_slice(&0u32.to_be_bytes());
    pkt.extend_from_slice(&[0x50, 0x18]);
    pkt.extend_from_slice(&0xffffu16.to_be_bytes());
    pkt.extend_from_slice(&[0, 0, 0, 0]);
    let mut rng = SplitMix64(0x7063_6b74);
    pkt.extend((0..payload_len).map(|_| rng.next() as u8));
    pkt
}

/// The input packet of a kernel-suite program (the same frame for all of them).
pub fn kernel_packet(name: &str) -> Result<Vec<u8>, BenchError> {
    kernel_program(name)?;
    Ok(tcp_packet(KERNEL_PAYLOAD_LEN))
}

/// A little-endian load of `N` bytes at `at`: what a BPF load on x86-64 yields.
fn load_le<const N: usize>(pkt: &[u8], at: usize) -> u64 {
    pkt[at..at + N]
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

fn dispatch64_case(acc: u32, b: u32, k: u32) -> u32 {
    match k % 8 {
        0 => acc.wrapping_add(b.wrapping_mul(k + 3)),
        1 => acc ^ (b << (k % 23 + 1)),
        2 => acc.wrapping_add((acc >> (k % 7 + 1)) | k),
        3 => acc.wrapping_sub(b ^ (k * 0x9e37)),
        4 => (acc << 1).wrapping_add(b).wrapping_add(k),
        5 => acc.wrapping_add(acc & (k * 7 + 1)),
        6 => acc.wrapping_mul(3).wrapping_add(b | k),
        _ => acc ^ (acc >> (k % 5 + 1)).wrapping_add(b),
    }
}

fn call_chain_steps(x: u32) -> u32 {
    let step6 = |x: u32| (x ^ (x >> 13)).wrapping_mul(0x5bd1_e995);
    let step5 = |x: u32| step6(x.wrapping_add(0x7f4a_7c15)) ^ x;
    let step4 = |x: u32| step5(x.rotate_left(5)).wrapping_add(17);
    let step3 = |x: u32| step4(x.wrapping_mul(0x9e37_79b1)).wrapping_sub(x >> 3);
    let step2 = |x: u32| step3(x ^ 0xdead_beef).wrapping_add(x);
    step2(x.wrapping_add(1)) ^ (x << 7)
}

fn straight_line_reference(pkt: &[u8]) -> u32 {
    let mut lanes = [0u64; 4];
    for (i, lane) in lanes.iter_mut().enumerate() {
        *lane = load_le::<8>(pkt, i * 8);
    }
    let [mut a, mut b, mut c, mut d] = lanes;
    for k in 0u64..48 {
        a = a.wrapping_add(b);
        d ^= a;
        d = d.rotate_left((32 - k % 17) as u32);
        c = c.wrapping_add(d.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        b ^= c;
        b = b.rotate_left((24 - k % 11) as u32);
        a ^= k.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    }
    let folded = a ^ b ^ c ^ d;
    (folded ^ (folded >> 32)) as u32
}

/// The return value each kernel-suite program must give on [`kernel_packet`], from a
/// Rust reference implementation of the program's C.
pub fn kernel_expected(name: &str) -> Result<u64, BenchError> {
    let pkt = kernel_packet(name)?;
    let payload = &pkt[HEADERS_LEN..];
    let seq_as_loaded = load_le::<4>(&pkt, 38) as u32;
    Ok(match name {
        "parse_tcp" => ((KERNEL_PAYLOAD_LEN as u64) << 16) | u64::from(TCP_PORTS.1),
        "ip_checksum" => u64::from(internet_checksum(&pkt[14..])),
        "dispatch64" => u64::from(payload[..128].iter().fold(0u32, |acc, &b| {
            dispatch64_case(acc, u32::from(b), u32::from(b & 63))
        })),
        "hash_counters" => {
            let base = (load_le::<4>(&pkt, 26) as u32)
                ^ ((load_le::<2>(&pkt, 34) as u32) << 16)
                ^ (load_le::<2>(&pkt, 36) as u32);
            u64::from((0u32..16).fold(0u32, |acc, i| {
                acc.wrapping_add((base ^ i.wrapping_mul(0x9e37_79b1)) & 0xffff)
            }))
        }
        "hash_lookup" => (0u64..64).map(|i| i * 7).sum(),
        "array_sum" => {
            let seed = u64::from(seq_as_loaded | 1);
            let sum = (0u64..256).fold(0u64, |sum, i| sum.wrapping_add(i.wrapping_mul(seed)));
            u64::from((sum ^ (sum >> 32)) as u32)
        }
        "call_chain" => u64::from((0..32).fold(0u32, |acc, i| {
            acc.wrapping_add(call_chain_steps(
                load_le::<4>(&pkt, HEADERS_LEN + 4 * i) as u32
            ))
        })),
        "loop1024" => u64::from((0u32..1024).fold(0x811c_9dc5u32, |acc, i| {
            let acc = (acc ^ i.wrapping_add(seq_as_loaded)).wrapping_mul(0x0100_0193);
            acc ^ (acc >> 15)
        })),
        "straight_line" => u64::from(straight_line_reference(&pkt)),
        _ => {
            return Err(BenchError::UnknownProgram {
                suite: "kernel",
                name: name.to_string(),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_headers_are_well_formed() {
        let pkt = tcp_packet(KERNEL_PAYLOAD_LEN);
        assert_eq!(pkt.len(), HEADERS_LEN + KERNEL_PAYLOAD_LEN);
        assert_eq!(&pkt[12..14], &[0x08, 0x00]);
        // A correct IPv4 header checksums to zero.
        assert_eq!(internet_checksum(&pkt[14..34]), 0);
        assert_eq!(
            u16::from_be_bytes([pkt[16], pkt[17]]) as usize,
            pkt.len() - 14
        );
        assert_eq!(u16::from_be_bytes([pkt[36], pkt[37]]), 80);
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (+ carries).
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&bytes), !0xddf2);
    }

    #[test]
    fn every_program_has_an_object_and_an_expectation() {
        for p in KERNEL_PROGRAMS {
            assert_eq!(&p.object[..4], b"\x7fELF", "{}", p.name);
            assert!(p.object_path().is_file(), "{}", p.name);
            kernel_expected(p.name).unwrap();
        }
        assert!(kernel_expected("nope").is_err());
        assert!(kernel_packet("nope").is_err());
    }

    #[test]
    fn parse_tcp_reference_reads_the_headers() {
        assert_eq!(kernel_expected("parse_tcp").unwrap(), (1024 << 16) | 80);
    }
}
