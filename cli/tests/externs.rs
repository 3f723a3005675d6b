//! An object with `.kconfig` and `.ksyms` externs (loader/tests/fixtures/
//! externs.c) runs in ironbpf and in the kernel with the same values: both
//! sides resolve them from this machine's configuration and symbols, as
//! libbpf does.

use std::process::Command;

fn r0_of(args: &[&str]) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .args(args)
        .output()
        .expect("run ironbpf");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("r0 = "))
        .unwrap_or_else(|| panic!("{args:?}: no r0 line in {text}"));
    line["r0 = ".len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn kconfig_and_ksym_externs_agree_with_the_kernel() {
    let object = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../loader/tests/fixtures/externs.o"
    );
    let packet = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/telnet.pkt");
    let ours = r0_of(&["run", object, "--prog", "externs", "--data", packet]);
    // Not vacuous: LINUX_KERNEL_VERSION >= 6.0 adds 32000, and CONFIG_HZ is
    // at least 100 on any kernel; the missing weak ones add nothing odd.
    assert!(ours >= 32_100, "r0 = {ours}");
    assert_eq!(
        ours % 2,
        0,
        "a value the configuration lacks reads as 0: r0 = {ours}"
    );
    if !ironbpf_kernel::available_for_test("kconfig_and_ksym_externs_agree_with_the_kernel") {
        return;
    }
    let kernel = r0_of(&[
        "kernel", "run", object, "--prog", "externs", "--data", packet,
    ]);
    assert_eq!(ours, kernel, "ironbpf's r0, then the kernel's");
}

#[test]
fn kconfig_values_given_on_the_command_line_apply_to_both_sides() {
    let object = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../loader/tests/fixtures/externs.o"
    );
    let packet = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/telnet.pkt");
    let base = r0_of(&[
        "run",
        object,
        "--prog",
        "externs",
        "--data",
        packet,
        "--kconfig",
        "CONFIG_HZ=0",
    ]);
    let more = r0_of(&[
        "run",
        object,
        "--prog",
        "externs",
        "--data",
        packet,
        "--kconfig",
        "CONFIG_HZ=7",
    ]);
    assert_eq!(more, base + 7, "CONFIG_HZ given with --kconfig");
    if !ironbpf_kernel::available_for_test(
        "kconfig_values_given_on_the_command_line_apply_to_both_sides",
    ) {
        return;
    }
    let kernel = r0_of(&[
        "kernel",
        "run",
        object,
        "--prog",
        "externs",
        "--data",
        packet,
        "--kconfig",
        "CONFIG_HZ=7",
    ]);
    assert_eq!(more, kernel, "ironbpf's r0, then the kernel's");
    let bad = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .args(["run", object, "--kconfig", "CONFIG_HZ"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--kconfig CONFIG_HZ: expected NAME=VALUE")
    );
}

#[test]
fn a_kfunc_call_runs_in_the_kernel_and_is_refused_here_naming_the_instruction() {
    let object = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../loader/tests/fixtures/externs.o"
    );
    let packet = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/telnet.pkt");
    let ours = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .args(["run", object, "--prog", "kfuncs", "--data", packet])
        .output()
        .unwrap();
    assert_eq!(ours.status.code(), Some(1));
    let err = String::from_utf8_lossy(&ours.stderr);
    // insn 4 calls a weak kfunc the kernel lacks, behind bpf_ksym_exists:
    // dead code, as in the kernel; insn 9 calls bpf_dynptr_from_xdp, which
    // the verifier accepts (verifier/src/dynptr.rs) and the engine cannot
    // run: it refuses the first kfunc call it decodes, the dead one.
    assert!(
        (err.contains("insn 4") || err.contains("insn 9")) && err.contains("kfunc"),
        "{err}"
    );
    if !ironbpf_kernel::available_for_test("a_kfunc_call_runs_in_the_kernel") {
        return;
    }
    let kernel = r0_of(&[
        "kernel", "run", object, "--prog", "kfuncs", "--data", packet,
    ]);
    assert_eq!(kernel, 2, "bpf_dynptr_from_xdp succeeded in the kernel");
}
