//! ironbpf-vm: running eBPF programs in userspace.
//!
//! The [`Interpreter`] runs a decoded [`ironbpf_isa::Program`] in checked
//! mode: every load, store and atomic is tested against the run's memory
//! regions (stack, context, packet, input memory, map values), bpf-to-bpf
//! calls get a 512-byte stack frame each up to 8 frames deep, helpers are
//! called through a [`HelperRegistry`], and an instruction budget ends
//! endless loops with a clear error. Division, shifts, sign and zero
//! extension behave exactly as in the Linux kernel.
//!
//! Hosts that embed eBPF as a plugin VM start with the [`embed`] module
//! (re-exported here): a [`Program`] of a [`ProgramType`], a [`Linker`]
//! with the host's helpers and maps, a [`Runtime`] and the [`Instance`]
//! they make. The rest of the crate is the machinery underneath.
//!
//! ```
//! use ironbpf_vm::{Arg, Call, Linker, Program, ProgramType, Runtime};
//! // The host's context struct: { u32 user; u32 size; }, read-only.
//! let ty = ProgramType::new("hook", 8).field_ro("user", 0, 4).field_ro("size", 4, 4);
//! let mut linker = Linker::new();
//! // A host helper; the verifier checks that r1 is a number at every call.
//! linker.func("quota", 1000, &[Arg::Scalar], |_: &mut Call<'_>, user: u64| user * 100)?;
//! let src = "r6 = r1\n r1 = *(u32 *)(r6 + 0)\n call 1000\n r1 = *(u32 *)(r6 + 4)\n\
//!            r2 = 0\n if r1 > r0 goto +1\n r2 = 1\n r0 = r2\n exit";
//! let plugin = linker.instantiate(&Runtime::jit(), &Program::from_asm(src, ty.returns(0, 1))?)?;
//! let request = |user: u32, size: u32| [user.to_le_bytes(), size.to_le_bytes()].concat();
//! assert_eq!(plugin.run(&mut request(3, 250))?, 1); // within the quota of 300
//! assert_eq!(plugin.run(&mut request(3, 301))?, 0);
//! # Ok::<(), ironbpf_vm::embed::Error>(())
//! ```
//!
//! See [`embed`] for the whole guide: program types, argument kinds, maps
//! shared across threads, and what happens when a plugin misbehaves.
//!
//! Programs run on an [`Engine`]: the interpreter, or a [`JitProgram`] (the
//! same pre-decoded program compiled to x86-64 by `ironbpf-jit`, checked or
//! trusted), with the same results and errors. The safe entry points take
//! slices ([`Engine::run_with_memory`], [`Engine::run_ctx`],
//! [`testrun::run`]); a region table built from raw addresses goes in only
//! through the `unsafe` [`Engine::run_with_state`].
//!
//! ```
//! use ironbpf_isa::Program;
//! use ironbpf_vm::{HelperRegistry, Interpreter, Options};
//! // r0 = *(u32 *)(r1 + 0); r0 += 1; exit
//! let prog = Program::from_bytes(&[
//!     0x61, 0x10, 0, 0, 0, 0, 0, 0,
//!     0x07, 0x00, 0, 0, 1, 0, 0, 0,
//!     0x95, 0, 0, 0, 0, 0, 0, 0,
//! ]).unwrap();
//! let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).unwrap();
//! let mut mem = 41u32.to_le_bytes();
//! assert_eq!(vm.run_with_memory(&mut mem).unwrap(), 42);
//! ```

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod embed;
pub mod engine;
pub mod error;
pub mod interp;
pub mod object;
pub mod progtype;
pub mod testrun;

pub use embed::{Arg, Call, Instance, Linker, Program, ProgramType, Runtime};
pub use engine::{Engine, JitOptions, JitProgram, MemoryCall};
pub use error::VmError;
pub use interp::{CtxView, Interpreter, LdImm64Resolver, Options, RunMemory};
pub use ironbpf_helpers::{
    FnHelper, Helper, HelperCtx, HelperEnv, HelperError, HelperRegistry, Redirect, RunState,
};
pub use ironbpf_jit::Mode as JitMode;
pub use progtype::ProgType;

/// One instruction in the kernel's log syntax, for messages.
pub(crate) fn describe(insn: &ironbpf_isa::Insn) -> String {
    ironbpf_isa::disasm::disasm_insn(insn)
}
