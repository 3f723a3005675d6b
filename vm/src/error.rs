//! Errors of loading and running a program. Each names the instruction.

use ironbpf_isa::abi::AccessFault;
use ironbpf_isa::IsaError;
use thiserror::Error;

/// Why a program could not be loaded or did not finish.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VmError {
    /// The program is not valid eBPF: refused at load.
    #[error("invalid program: {0}")]
    Invalid(#[from] IsaError),
    /// A helper id that nothing provides: refused at load. When the id is
    /// one of the kernel's helpers, the message says it is not implemented
    /// in userspace.
    #[error("{}", unknown_helper_text(*pc, *id))]
    UnknownHelper { pc: usize, id: i64 },
    /// A helper that the program's type may not call: refused at load, as
    /// the kernel's verifier refuses it.
    #[error("insn {pc}: program of type {prog_type} cannot use helper {name}#{id} (the kernel's verifier refuses it too)")]
    HelperNotAllowed {
        pc: usize,
        id: i64,
        name: String,
        prog_type: String,
    },
    /// An instruction that this engine cannot run (kfunc calls need a kernel).
    #[error("insn {pc}: {what} is not supported by this engine")]
    Unsupported { pc: usize, what: String },
    /// A load, store or atomic outside every region of the run.
    #[error("insn {pc} ({insn}): {fault}")]
    MemoryFault {
        pc: usize,
        insn: String,
        fault: AccessFault,
    },
    /// A context access that the program type does not allow.
    #[error("insn {pc}: invalid {prog_type} context access off={off} size={size}: {why} (the kernel's verifier refuses it too)")]
    CtxAccess {
        pc: usize,
        prog_type: String,
        off: u64,
        size: u64,
        why: String,
    },
    /// An atomic operation on an address not aligned to its size.
    #[error("insn {pc}: misaligned atomic access of {size} bytes at {addr:#x}: atomics need an address aligned to their size")]
    MisalignedAtomic { pc: usize, addr: u64, size: u64 },
    /// The instruction budget ran out: most likely an endless loop.
    #[error("insn {pc}: the instruction budget of {budget} instructions is exhausted (an endless loop?); raise it with the budget option if the program is meant to run longer")]
    BudgetExhausted { pc: usize, budget: u64 },
    /// bpf-to-bpf calls nested deeper than the kernel allows.
    #[error("insn {pc}: call stack overflow: bpf-to-bpf calls may nest at most {max} frames deep")]
    CallDepth { pc: usize, max: usize },
    /// A helper reported an error.
    #[error("insn {pc}: helper {name} (id {id}) failed: {message}")]
    HelperFailed {
        pc: usize,
        id: i64,
        name: String,
        message: String,
    },
    /// A `callx` whose register holds no helper id.
    #[error("insn {pc}: callx r{reg} = {value:#x}: no helper has that id")]
    BadCallx { pc: usize, reg: u8, value: u64 },
    /// The program exited holding a `bpf_spin_lock`, which the engine
    /// released. The kernel's verifier refuses a program that can.
    #[error("the program exited holding the bpf_spin_lock at {addr:#x} (ironbpf released it); the kernel's verifier refuses such a program: \"BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region\": call bpf_spin_unlock on every path before exit")]
    SpinLockHeldAtExit { addr: u64 },
    /// The run's input could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// The message of [`VmError::UnknownHelper`].
fn unknown_helper_text(pc: usize, id: i64) -> String {
    match ironbpf_helpers::catalog::helper_name(id) {
        Some(name) => format!(
            "insn {pc}: {name} is not implemented in userspace (helper #{id} of Linux 6.18; \
             ironbpf refuses the program at load rather than run the call wrongly)"
        ),
        None => {
            format!("insn {pc}: call to unknown helper {id}: no helper with that id is registered")
        }
    }
}
