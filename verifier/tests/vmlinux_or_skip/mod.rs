//! The running kernel's BTF for the tests that need it, or a `skipped:`
//! line where /sys/kernel/btf/vmlinux cannot be read (a failure instead
//! under IRONBPF_REQUIRE_KERNEL=1, where CI must not skip).

use std::sync::Arc;

use ironbpf_verifier::vmlinux::{vmlinux, Vmlinux};

/// vmlinux BTF, or `None` after printing why the caller skips.
pub fn vmlinux_or_skip() -> Option<Arc<Vmlinux>> {
    match vmlinux() {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(
                std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() != Ok("1"),
                "{e}"
            );
            eprintln!("skipped: {e}");
            None
        }
    }
}
