//! ironbpf's verifier: abstract interpretation of a BPF program as the Linux
//! 6.18 verifier does it, with the kernel's verdicts, error texts and log.
//!
//! The scalar domain (the kernel's `tnum` and the four ranges kept in sync)
//! lives in [`tnum`], [`scalar`], [`alu`] and [`branch`]; the rest of the
//! crate (register and stack state, memory access, calls, the exploration
//! loop and the log) is built on it.

pub mod alu;
pub mod branch;
pub mod scalar;
pub mod tnum;
