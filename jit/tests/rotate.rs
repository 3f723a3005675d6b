//! The JIT's fused 64-bit rotate (`t = x ; t >>= k ; x <<= 64 - k ; x |= t`
//! as one `rol`, with `t` computed too when it is read later): every mode
//! gives the interpreter's results, with `t` read afterwards and not, and
//! the pattern broken by a jump into it.

use ironbpf_isa::assemble_program;
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitProgram, Options};

fn agree(name: &str, src: &str, input: &[u8]) -> u64 {
    let prog = assemble_program(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut mem = input.to_vec();
    let want = vm
        .run_with_memory(&mut mem)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let checked = JitProgram::checked(vm.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut mem = input.to_vec();
    assert_eq!(
        checked.run_with_memory(&mut mem).ok(),
        Some(want),
        "{name}: checked"
    );
    // SAFETY: the programs read only the first 8 bytes of their 8-byte input.
    let trusted = unsafe { JitProgram::trusted(vm) }.unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut mem = input.to_vec();
    assert_eq!(
        trusted.run_with_memory(&mut mem).ok(),
        Some(want),
        "{name}: trusted"
    );
    want
}

const INPUT: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];

#[test]
fn a_rotate_whose_temporary_is_dead_after_it() {
    let x = u64::from_le_bytes(INPUT);
    let r = agree(
        "dead t",
        "r3 = *(u64 *)(r1 + 0)\nr4 = r3\nr4 >>= 40\nr3 <<= 24\nr3 |= r4\nr4 = 0\nr0 = r3\nexit",
        &INPUT,
    );
    assert_eq!(r, x.rotate_left(24));
}

#[test]
fn a_rotate_whose_temporary_is_read_after_it() {
    let x = u64::from_le_bytes(INPUT);
    let r = agree(
        "live t",
        "r3 = *(u64 *)(r1 + 0)\nr4 = r3\nr4 >>= 13\nr3 <<= 51\nr3 |= r4\nr0 = r3\nr0 ^= r4\nexit",
        &INPUT,
    );
    assert_eq!(r, x.rotate_left(51) ^ (x >> 13));
    // Read at the exit (r0 is the temporary).
    let r = agree(
        "t is r0",
        "r3 = *(u64 *)(r1 + 0)\nr0 = r3\nr0 >>= 1\nr3 <<= 63\nr3 |= r0\nexit",
        &INPUT,
    );
    assert_eq!(r, x >> 1);
    // Read after a jump: the scan stops there and keeps it.
    let r = agree(
        "t after a jump",
        "r3 = *(u64 *)(r1 + 0)\nr4 = r3\nr4 >>= 7\nr3 <<= 57\nr3 |= r4\nif r3 == 0 goto z\nr0 = r4\nexit\nz: r0 = 1\nexit",
        &INPUT,
    );
    assert_eq!(r, x >> 7);
}

#[test]
fn a_jump_into_the_pattern_keeps_the_instructions() {
    // The shift left is a jump target: no fusion, and the other path
    // (x = 0 first) must still compute t | 0.
    let x = u64::from_le_bytes(INPUT);
    let r = agree(
        "target inside",
        "r3 = *(u64 *)(r1 + 0)\nr4 = r3\nr4 >>= 8\nif r3 == 0 goto l\nr5 = 0\nl: r3 <<= 56\nr3 |= r4\nr0 = r3\nexit",
        &INPUT,
    );
    assert_eq!(r, x.rotate_left(56));
}

#[test]
fn a_fused_move_after_the_rotate_reads_and_writes_as_its_parts() {
    let x = u64::from_le_bytes(INPUT);
    // `r0 = r4 ; r0 += r2` becomes one fused move; r4 (the temporary) is
    // read there.
    let r = agree(
        "fused read",
        "r3 = *(u64 *)(r1 + 0)\nr2 = 5\nr4 = r3\nr4 >>= 9\nr3 <<= 55\nr3 |= r4\nr0 = r4\nr0 += r2\nr0 ^= r3\nexit",
        &INPUT,
    );
    assert_eq!(r, ((x >> 9) + 5) ^ x.rotate_left(55));
    // ... and r4 written by one: dead.
    let r = agree(
        "fused write",
        "r3 = *(u64 *)(r1 + 0)\nr2 = 5\nr4 = r3\nr4 >>= 9\nr3 <<= 55\nr3 |= r4\nr4 = r3\nr4 += r2\nr0 = r4\nexit",
        &INPUT,
    );
    assert_eq!(r, x.rotate_left(55) + 5);
}
