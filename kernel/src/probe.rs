//! Can this process use the kernel's BPF? And if not, exactly why not, so
//! that a test can skip with a reason a person can act on.

use std::fmt;
use std::io::Write;

use crate::sys;

/// Why the kernel cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub reason: String,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Unavailable {}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

/// The effective capability mask of this process, from /proc/self/status.
fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Checks that `bpf(2)` can create a map and load and test-run a program.
/// On failure, the reason names what is missing: the syscall, root, CAP_BPF,
/// the `kernel.unprivileged_bpf_disabled` sysctl.
pub fn probe() -> Result<(), Unavailable> {
    // The cheapest command that needs the same rights as a program load: a
    // one-element array map.
    let mut attr = sys::MapCreateAttr {
        map_type: 2,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        ..Default::default()
    };
    match sys::bpf_fd(sys::BPF_MAP_CREATE, &mut attr) {
        Ok(_fd) => {}
        Err(errno) => return Err(explain(errno)),
    }
    // A socket filter `r0 = 0; exit`, which needs no capability beyond CAP_BPF.
    let insns: [u64; 2] = [0xb7, 0x95];
    let prog = crate::load_program(&crate::ProgLoad {
        prog_type: crate::BPF_PROG_TYPE_SOCKET_FILTER,
        insns: &insns,
        ..Default::default()
    });
    match prog.result {
        Ok(_) => Ok(()),
        Err(e) => Err(explain(e.errno)),
    }
}

fn explain(errno: i32) -> Unavailable {
    let caps = effective_caps();
    let has = |cap: u32| caps.map(|c| c & (1 << cap) != 0);
    let euid = euid_from_proc();
    let reason = match errno {
        libc::ENOSYS => {
            "bpf(2) is not available: the kernel was built without CONFIG_BPF_SYSCALL, \
                         or a seccomp filter (a container runtime's) blocks the syscall"
                .to_string()
        }
        libc::EPERM | libc::EACCES => {
            let unpriv = std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".to_string());
            let mut why = String::from("bpf(2) is not permitted: ");
            if has(CAP_BPF) == Some(false) && has(CAP_SYS_ADMIN) == Some(false) {
                why.push_str(&format!(
                    "this process (euid {euid}) has neither CAP_BPF nor CAP_SYS_ADMIN"
                ));
                if unpriv != "0" {
                    why.push_str(&format!(
                        ", and kernel.unprivileged_bpf_disabled is {unpriv}, so unprivileged BPF is off"
                    ));
                }
                why.push_str("; run as root, or grant CAP_BPF (and CAP_PERFMON, CAP_NET_ADMIN for test runs)");
            } else {
                why.push_str(&format!(
                    "the kernel returned {} although the process has CAP_BPF or CAP_SYS_ADMIN \
                     (a seccomp filter or an LSM such as SELinux or lockdown may deny it)",
                    crate::errno_name(errno)
                ));
            }
            why
        }
        _ => format!(
            "bpf(2) failed with {} ({}) while probing",
            crate::errno_name(errno),
            crate::errno_text(errno)
        ),
    };
    Unavailable { reason }
}

fn euid_from_proc() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .unwrap_or_else(|| "?".to_string())
}

/// Is kernel BTF (`/sys/kernel/btf/vmlinux`) there? CO-RE and BTF-typed
/// program types need it.
pub fn probe_btf() -> Result<(), Unavailable> {
    if std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        Ok(())
    } else {
        Err(Unavailable {
            reason: "/sys/kernel/btf/vmlinux is missing: the kernel was built without CONFIG_DEBUG_INFO_BTF".into(),
        })
    }
}

/// For tests that need the kernel: `true` when it can be used. Otherwise
/// prints `skipped: <test>: <reason>` on stderr and returns `false`, unless
/// `IRONBPF_REQUIRE_KERNEL=1` is set (as CI sets it), in which case it panics
/// so that the test fails instead of skipping silently.
pub fn available_for_test(test: &str) -> bool {
    match probe() {
        Ok(()) => true,
        Err(why) => {
            if std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() == Ok("1") {
                panic!("{test}: the kernel is required (IRONBPF_REQUIRE_KERNEL=1) but cannot be used: {why}");
            }
            // Written to the process's stderr directly, so that the test
            // harness's output capture does not swallow the reason.
            let _ = writeln!(std::io::stderr().lock(), "skipped: {test}: {why}");
            false
        }
    }
}
