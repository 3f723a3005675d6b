//! The VM suite: eight programs `u64 bpf_main(void *mem)` run with r1 = an input
//! memory, after the suite bpftime used to compare userspace eBPF runtimes.
//!
//! For each program this module gives its raw instructions ([`vm_program`]), its input
//! memory ([`vm_input`], generated deterministically) and its expected r0
//! ([`vm_expected`], computed by a Rust reference implementation that does not run the
//! program). The C sources sit in `benches/programs/vm/`; `build.sh` there rebuilds the
//! committed `.o` and `.bin` files.
//!
//! Input memory layouts (all integers little endian):
//!
//! | program | mem |
//! |---|---|
//! | `simple` | empty (r1 = 0 in runtimes that pass a null pointer for empty memory) |
//! | `memory_a_plus_b` | 8 bytes: u32 a at 0, u32 b at 4 |
//! | `log2_int` | 64 KiB: 8192 u64 values of spread magnitudes |
//! | `prime` | empty |
//! | `memcpy` | 2 MiB: source bytes in [0, 1 MiB), destination (zeroed) in [1 MiB, 2 MiB) |
//! | `strcmp_full` | 2 MiB: string a in [0, 1 MiB), string b in [1 MiB, 2 MiB), equal, NUL in each last byte |
//! | `strcmp_fail` | as `strcmp_full`, but b differs from a at byte 256 KiB |
//! | `switch` | 4 KiB: 1024 u32 values |

use crate::BenchError;

/// Size of each half of the memory of `memcpy`, `strcmp_full` and `strcmp_fail`.
pub const MIB: usize = 1 << 20;

/// Number of u64 values `log2_int` reads.
pub const LOG2_COUNT: usize = 8192;

/// `prime` counts the primes below this bound.
pub const PRIME_LIMIT: u64 = 10_000;

/// Number of u32 values `switch` reads.
pub const SWITCH_COUNT: usize = 1024;

/// Byte offset at which the two strings of `strcmp_fail` differ: a quarter of the way in.
pub const STRCMP_FAIL_OFFSET: usize = MIB / 4;

/// The two u32 operands of `memory_a_plus_b`.
pub const A_PLUS_B: (u32, u32) = (0x9e37_79b9, 0x7f4a_7c15);

/// One program of the VM suite.
#[derive(Debug, Clone, Copy)]
pub struct VmProgram {
    /// Program name, as in `benches/programs/vm/NAME.c`.
    pub name: &'static str,
    /// Raw eBPF instructions (the `.text` section of `NAME.o`, 8 bytes per slot).
    pub insns: &'static [u8],
    /// What the program measures, in one line.
    pub description: &'static str,
}

macro_rules! vm_program {
    ($name:literal, $description:literal) => {
        VmProgram {
            name: $name,
            insns: include_bytes!(concat!("../programs/vm/", $name, ".bin")),
            description: $description,
        }
    };
}

/// The VM suite, in the order reports list it.
pub const VM_PROGRAMS: &[VmProgram] = &[
    vm_program!(
        "simple",
        "return a constant: the cost of a call into the runtime"
    ),
    vm_program!("memory_a_plus_b", "two u32 loads from mem and an add"),
    vm_program!("log2_int", "branch-free log2 of 8192 u64 values, summed"),
    vm_program!("prime", "count primes below 10^4 by trial division"),
    vm_program!("memcpy", "byte-by-byte copy of 1 MiB"),
    vm_program!("strcmp_full", "compare two equal 1 MiB strings"),
    vm_program!(
        "strcmp_fail",
        "compare two 1 MiB strings differing 256 KiB in"
    ),
    vm_program!("switch", "64-case switch over 1024 values, summed"),
];

/// Names of the VM suite's programs, in suite order.
pub fn vm_program_names() -> impl Iterator<Item = &'static str> {
    VM_PROGRAMS.iter().map(|p| p.name)
}

/// Looks a VM-suite program up by name.
pub fn vm_program(name: &str) -> Result<&'static VmProgram, BenchError> {
    VM_PROGRAMS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| BenchError::UnknownProgram {
            suite: "vm",
            name: name.to_string(),
        })
}

/// A small deterministic generator (SplitMix64) for the input memories.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A byte in 1..=255 (never NUL).
    fn nonzero_byte(&mut self) -> u8 {
        (self.next() % 255) as u8 + 1
    }
}

/// The input memory of a VM-suite program (layouts in the module documentation).
///
/// Unknown names yield an empty memory; use [`vm_program`] to validate a name first.
pub fn vm_input(name: &str) -> Vec<u8> {
    match name {
        "memory_a_plus_b" => {
            let mut mem = A_PLUS_B.0.to_le_bytes().to_vec();
            mem.extend_from_slice(&A_PLUS_B.1.to_le_bytes());
            mem
        }
        "log2_int" => {
            let mut rng = SplitMix64(0x1092_0001);
            let mut mem = Vec::with_capacity(LOG2_COUNT * 8);
            for i in 0..LOG2_COUNT {
                // Spread the magnitudes over all 64 bit lengths; every 97th value is 0.
                let value = if i % 97 == 0 {
                    0
                } else {
                    rng.next() >> (rng.next() % 64)
                };
                mem.extend_from_slice(&value.to_le_bytes());
            }
            mem
        }
        "memcpy" => {
            let mut rng = SplitMix64(0x6d65_6d63);
            let mut mem = vec![0u8; 2 * MIB];
            for chunk in mem[..MIB].chunks_exact_mut(8) {
                chunk.copy_from_slice(&rng.next().to_le_bytes());
            }
            mem
        }
        "strcmp_full" | "strcmp_fail" => {
            let mut rng = SplitMix64(0x7374_7263);
            let mut mem = vec![0u8; 2 * MIB];
            for byte in &mut mem[..MIB - 1] {
                *byte = rng.nonzero_byte();
            }
            mem.copy_within(..MIB, MIB);
            if name == "strcmp_fail" {
                let at = MIB + STRCMP_FAIL_OFFSET;
                mem[at] = if mem[at] == 0xff { 1 } else { mem[at] + 1 };
            }
            mem
        }
        "switch" => {
            let mut rng = SplitMix64(0x7377_6974);
            let mut mem = Vec::with_capacity(SWITCH_COUNT * 4);
            for _ in 0..SWITCH_COUNT {
                mem.extend_from_slice(&(rng.next() as u32).to_le_bytes());
            }
            mem
        }
        _ => Vec::new(),
    }
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// One case of `switch`: the eight operation shapes of `benches/programs/vm/switch.c`.
fn switch_case(sum: u64, v: u32, k: u64) -> u64 {
    let v64 = u64::from(v);
    match k % 8 {
        0 => sum.wrapping_add(v64.wrapping_mul(k + 3)),
        1 => sum ^ (v64 << (k % 29 + 1)),
        2 => sum.wrapping_add((v64 >> (k % 7 + 1)) | k),
        3 => sum.wrapping_sub(v64 ^ (k * 0x9e37)),
        4 => (sum << 1).wrapping_add(v64).wrapping_add(k),
        5 => sum.wrapping_add(v64 & (k * 7 + 1)),
        6 => sum.wrapping_mul(3).wrapping_add(v64 | k),
        _ => sum ^ (sum >> (k % 5 + 1)).wrapping_add(v64),
    }
}

/// The r0 each VM-suite program must return on [`vm_input`], from a Rust reference
/// implementation (a sieve for `prime`, `leading_zeros` for `log2_int`, ...).
pub fn vm_expected(name: &str) -> Result<u64, BenchError> {
    vm_program(name)?;
    let mem = vm_input(name);
    Ok(match name {
        "simple" => 42,
        "memory_a_plus_b" => u64::from(A_PLUS_B.0) + u64::from(A_PLUS_B.1),
        "log2_int" => mem
            .chunks_exact(8)
            .map(|c| le_u64(c, 0))
            .map(|v| {
                if v == 0 {
                    0
                } else {
                    63 - u64::from(v.leading_zeros())
                }
            })
            .sum(),
        "prime" => {
            let limit = PRIME_LIMIT as usize;
            let mut composite = vec![false; limit];
            let mut count = 0;
            for n in 2..limit {
                if !composite[n] {
                    count += 1;
                    let mut m = n * n;
                    while m < limit {
                        composite[m] = true;
                        m += n;
                    }
                }
            }
            count
        }
        // After the copy the destination equals the source.
        "memcpy" => le_u64(&mem, 0) ^ le_u64(&mem, MIB / 2) ^ le_u64(&mem, MIB - 8),
        "strcmp_full" | "strcmp_fail" => {
            let (a, b) = mem.split_at(MIB);
            let i = a
                .iter()
                .zip(b)
                .position(|(x, y)| *x == 0 || x != y)
                .unwrap_or(MIB - 1);
            let diff = i32::from(a[i]) - i32::from(b[i]);
            ((i as u64) << 32) | u64::from(diff as u32)
        }
        "switch" => mem
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .fold(0u64, |sum, v| switch_case(sum, v, u64::from(v & 63))),
        _ => unreachable_name(name)?,
    })
}

fn unreachable_name(name: &str) -> Result<u64, BenchError> {
    Err(BenchError::UnknownProgram {
        suite: "vm",
        name: name.to_string(),
    })
}

/// An input memory aligned to 8 bytes, as the C programs assume for their u32/u64 loads.
#[derive(Debug, Clone)]
pub struct VmMemory {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl VmMemory {
    /// Copies `bytes` into a fresh 8-byte-aligned buffer.
    pub fn new(bytes: &[u8]) -> Self {
        let mut buf = vec![0u8; bytes.len() + 8];
        let start = buf.as_ptr().align_offset(8).min(8);
        buf[start..start + bytes.len()].copy_from_slice(bytes);
        VmMemory {
            buf,
            start,
            len: bytes.len(),
        }
    }

    /// The memory for a VM-suite program: [`vm_input`] of `name`, aligned.
    pub fn for_program(name: &str) -> Self {
        Self::new(&vm_input(name))
    }

    /// The memory's bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    /// The memory's bytes, writable (programs such as `memcpy` write to it).
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for the programs that take no memory.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_program_has_whole_instructions_ending_in_exit() {
        for p in VM_PROGRAMS {
            assert!(!p.insns.is_empty() && p.insns.len() % 8 == 0, "{}", p.name);
            let last = &p.insns[p.insns.len() - 8..];
            assert_eq!(last[0], 0x95, "{} does not end with exit", p.name);
        }
    }

    #[test]
    fn inputs_have_the_documented_sizes() {
        assert_eq!(vm_input("simple").len(), 0);
        assert_eq!(vm_input("memory_a_plus_b").len(), 8);
        assert_eq!(vm_input("log2_int").len(), LOG2_COUNT * 8);
        assert_eq!(vm_input("prime").len(), 0);
        assert_eq!(vm_input("memcpy").len(), 2 * MIB);
        assert_eq!(vm_input("strcmp_full").len(), 2 * MIB);
        assert_eq!(vm_input("switch").len(), SWITCH_COUNT * 4);
    }

    #[test]
    fn inputs_are_deterministic() {
        for name in vm_program_names() {
            assert_eq!(vm_input(name), vm_input(name), "{name}");
        }
    }

    #[test]
    fn strcmp_inputs_differ_only_where_documented() {
        let full = vm_input("strcmp_full");
        let fail = vm_input("strcmp_fail");
        let diffs: Vec<usize> = (0..full.len()).filter(|&i| full[i] != fail[i]).collect();
        assert_eq!(diffs, vec![MIB + STRCMP_FAIL_OFFSET]);
        assert_eq!(full[..MIB], full[MIB..]);
        assert_eq!(full[MIB - 1], 0);
        assert!(full[..MIB - 1].iter().all(|&b| b != 0));
    }

    #[test]
    fn reference_values_match_known_facts() {
        assert_eq!(vm_expected("prime").unwrap(), 1229);
        assert_eq!(vm_expected("simple").unwrap(), 42);
        assert_eq!(
            vm_expected("strcmp_full").unwrap(),
            ((MIB as u64 - 1) << 32)
        );
        assert_eq!(
            vm_expected("strcmp_fail").unwrap() >> 32,
            STRCMP_FAIL_OFFSET as u64
        );
        assert_eq!(vm_expected("memory_a_plus_b").unwrap(), 0x1_1d81_f5ce);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(vm_expected("nope").is_err());
        assert!(vm_program("nope").is_err());
    }

    #[test]
    fn memory_is_aligned_and_faithful() {
        let input = vm_input("switch");
        let mem = VmMemory::new(&input);
        assert_eq!(mem.as_slice().as_ptr() as usize % 8, 0);
        assert_eq!(mem.as_slice(), &input[..]);
    }
}
