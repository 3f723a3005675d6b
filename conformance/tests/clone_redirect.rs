//! `bpf_clone_redirect` in the kernel and in ironbpf: a tc program calls it
//! with an ifindex and flags and returns its result, test-run by
//! `BPF_PROG_TEST_RUN` and by `ironbpf_vm::testrun` on the same packet, and
//! the results, the packets handed back and `skb->cb` must be the same.
//!
//! The devices are set up the same way on both sides: in the kernel, in a
//! fresh network namespace of the test's thread (`unshare(CLONE_NEWNET)`:
//! `lo` down, then up, then a veth pair, both ends down, then both up); in
//! ironbpf, a [`World`] with the same interfaces.
//!
//! Skips with a `skipped:` line where bpf(2) or a new network namespace
//! cannot be had; fails instead under IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_helpers::env::HelperEnv;
use ironbpf_helpers::{HelperRegistry, World};
use ironbpf_isa::assemble_program;
use ironbpf_kernel::{load_program, ProgLoad, TestRun};
use ironbpf_vm::{progtype, testrun, Interpreter, Options};
use std::process::Command;
use std::sync::Arc;

/// `skb->cb`'s offset and length in `struct __sk_buff`.
const CB: std::ops::Range<usize> = 48..68;

/// Ethernet + IPv4 + UDP, 64 bytes.
fn packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    p[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    p[12] = 0x08;
    p[14..34].copy_from_slice(&[
        0x45, 0, 0, 50, 0, 1, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
    ]);
    p[34..38].copy_from_slice(&[0x30, 0x39, 0x00, 0x35]);
    p
}

/// A tc program: `cb[0] = bpf_clone_redirect(skb, ifindex, flags)`, then
/// `cb[1] = skb->len`, returning the helper's result.
fn program(ifindex: u32, flags: u64) -> String {
    format!(
        "r6 = r1\nr2 = {ifindex}\nr3 = {flags} ll\ncall 13\n*(u32 *)(r6 + 48) = r0\n\
         r1 = *(u32 *)(r6 + 0)\n*(u32 *)(r6 + 52) = r1\nexit\n"
    )
}

type Outcome = (u32, Vec<u8>, Vec<u8>);

fn kernel_side(asm: &str) -> Result<Outcome, String> {
    let pt = &progtype::SCHED_CLS;
    let slots = assemble_program(asm).map_err(|e| e.to_string())?;
    let words: Vec<u64> = slots.slots().iter().map(|s| s.to_u64()).collect();
    let out = load_program(&ProgLoad {
        prog_type: pt.kernel_id(),
        insns: &words,
        ..Default::default()
    });
    let prog = out
        .result
        .map_err(|e| format!("{e}: {}", out.first_error_line.unwrap_or_default()))?;
    let ctx = vec![0u8; pt.ctx_size as usize];
    let r = prog
        .test_run(&TestRun {
            data: &packet(),
            ctx: Some(&ctx),
            data_out_size: 4096,
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
    Ok((
        r.retval,
        r.data_out,
        r.ctx_out.get(CB).unwrap_or_default().to_vec(),
    ))
}

fn ours_side(asm: &str, env: &Arc<HelperEnv>) -> Result<Outcome, String> {
    let pt = &progtype::SCHED_CLS;
    let prog = assemble_program(asm).map_err(|e| e.to_string())?;
    let helpers = HelperRegistry::standard_with(env.clone()).for_prog_type(pt.kernel_id());
    let vm = Interpreter::new(&prog, &helpers, Options::default()).map_err(|e| e.to_string())?;
    let ctx = vec![0u8; pt.ctx_size as usize];
    let out = testrun::run(
        &vm,
        pt,
        &testrun::TestRun {
            data: &packet(),
            ctx: Some(&ctx),
            ..Default::default()
        },
        None,
    )
    .map_err(|e| e.to_string())?;
    Ok((out.r0 as u32, out.data_out, out.ctx_out[CB].to_vec()))
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn world(lo_up: bool, devices: &[(u32, bool)]) -> World {
    let mut text = format!(
        r#"{{"interfaces": [{{"ifindex": 1, "name": "lo", "loopback": true, "up": {lo_up}, "mtu": 65536,
            "addresses": ["127.0.0.1/8", "::1/128"]}}"#
    );
    for (ifindex, up) in devices {
        text.push_str(&format!(
            r#", {{"ifindex": {ifindex}, "name": "v{ifindex}", "up": {up}, "mac": "02:00:00:00:00:{ifindex:02x}"}}"#
        ));
    }
    text.push_str("]}");
    World::from_json(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Every (ifindex, flags) case in the namespace as it is now: the
/// differences, and what the kernel answered.
fn compare_cases(
    label: &str,
    ifindexes: &[u32],
    w: World,
    failures: &mut Vec<String>,
    seen: &mut Vec<String>,
) {
    let env = Arc::new(HelperEnv::host());
    env.set_world(w);
    for &ifindex in ifindexes {
        for flags in [0u64, 1, 2, 1 << 32] {
            let asm = program(ifindex, flags);
            let name = format!("{label}: ifindex {ifindex}, flags {flags:#x}");
            let theirs = match kernel_side(&asm) {
                Ok(t) => t,
                Err(e) => {
                    failures.push(format!("{name}: the kernel refused it: {e}"));
                    continue;
                }
            };
            seen.push(format!("{name}: kernel r0 = {}", theirs.0 as i32));
            match ours_side(&asm, &env) {
                Ok(ours) if ours == theirs => {}
                Ok(ours) => failures.push(format!(
                    "{name}: ours r0 = {} cb {:02x?}, kernel r0 = {} cb {:02x?}; packets equal: {}",
                    ours.0 as i32,
                    ours.2,
                    theirs.0 as i32,
                    theirs.2,
                    ours.1 == theirs.1
                )),
                Err(e) => failures.push(format!("{name}: ironbpf failed: {e}")),
            }
        }
    }
}

#[test]
fn clone_redirect_agrees_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("clone_redirect_agrees_with_the_kernel") {
        return;
    }
    let result = std::thread::spawn(|| -> Result<(Vec<String>, Vec<String>), String> {
        // SAFETY: unshare takes no pointers; it moves only this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "unshare(CLONE_NEWNET): {}",
                std::io::Error::last_os_error()
            ));
        }
        let (mut failures, mut seen) = (Vec::new(), Vec::new());
        compare_cases(
            "lo down",
            &[1, 7],
            world(false, &[]),
            &mut failures,
            &mut seen,
        );
        ip(&["link", "set", "lo", "up"])?;
        compare_cases("lo up", &[1, 7], world(true, &[]), &mut failures, &mut seen);
        ip(&[
            "link", "add", "v0", "index", "7", "type", "veth", "peer", "name", "v1", "index", "8",
        ])?;
        compare_cases(
            "veth down",
            &[1, 7, 8],
            world(true, &[(7, false), (8, false)]),
            &mut failures,
            &mut seen,
        );
        ip(&["link", "set", "v0", "up"])?;
        ip(&["link", "set", "v1", "up"])?;
        compare_cases(
            "veth up",
            &[1, 7, 8],
            world(true, &[(7, true), (8, true)]),
            &mut failures,
            &mut seen,
        );
        Ok((failures, seen))
    })
    .join()
    .expect("the namespace thread panicked");
    let (failures, seen) = match result {
        Ok(r) => r,
        Err(why) => {
            if std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() == Ok("1") {
                panic!("a new network namespace is required: {why}");
            }
            eprintln!("skipped: clone_redirect_agrees_with_the_kernel: {why}");
            return;
        }
    };
    for s in &seen {
        println!("{s}");
    }
    assert_eq!(seen.len(), 2 * 2 * 4 + 2 * 3 * 4, "{seen:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
