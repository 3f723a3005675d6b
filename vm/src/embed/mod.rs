//! The embedding API: eBPF as a plugin VM for a Rust host.
//!
//! Five nouns:
//!
//! - [`Program`]: a plugin's code, from an ELF object
//!   ([`Program::from_elf`]), from instructions ([`Program::from_insns`])
//!   or from kernel-syntax assembly ([`Program::from_asm`]), with its
//!   [`ProgramType`];
//! - [`ProgramType`]: the context struct the program sees (which fields it
//!   may read or write at which sizes, which ones are packet pointers),
//!   the legal return values and the kernel helpers it may call: one of
//!   the kernel's types, or the host's own, declared at run time;
//! - [`Linker`]: the host's helpers (Rust closures with typed prototypes,
//!   [`Linker::func`]) and maps ([`Linker::map`]), shared by every
//!   instance and readable by the host while programs run;
//! - [`Runtime`]: the interpreter or the JIT (checked, or trusted behind
//!   `unsafe`), and the instruction budget;
//! - [`Instance`]: a linked and verified program on an engine, `Send +
//!   Sync`, run by any number of threads at once ([`Instance::run`]).
//!
//! ```
//! use ironbpf_vm::embed::{Arg, Call, Linker, Program, ProgramType, Runtime};
//! // The plugin sees a 16-byte struct: u32 a at 0, u32 b at 4, u64 out at 8.
//! let ty = ProgramType::new("calc", 16)
//!     .field_ro("a", 0, 4).field_ro("b", 4, 4).field_rw("out", 8, 8);
//! let mut linker = Linker::new();
//! linker.func("mul", 1000, &[Arg::Scalar, Arg::Scalar],
//!     |_: &mut Call<'_>, x: u64, y: u64| x.wrapping_mul(y)).unwrap();
//! let prog = Program::from_asm("r6 = r1\n r1 = *(u32 *)(r6 + 0)\n r2 = *(u32 *)(r6 + 4)\n\
//!     call 1000\n *(u64 *)(r6 + 8) = r0\n r0 = 0\n exit", ty).unwrap();
//! let inst = linker.instantiate(&Runtime::jit(), &prog).unwrap();
//! let mut ctx = [6, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
//! assert_eq!(inst.run(&mut ctx).unwrap(), 0);
//! assert_eq!(u64::from_le_bytes(ctx[8..].try_into().unwrap()), 42);
//! ```
//!
//! Safety for the host: a verified program's every helper call is checked
//! against the helper's prototype; both engines still run checked (every
//! load, store and atomic tested against the run's memory, an instruction
//! budget), so a verifier gap cannot become memory corruption. Only the
//! `unsafe` [`Runtime::jit_trusted`] drops the checks, for verified
//! programs. Programs are verified as a privileged loader's (bounded
//! loops allowed) unless [`Runtime::unprivileged`] says otherwise. A program
//! made without the verifier ([`Linker::instantiate_unverified`]) runs
//! only with a finite budget. A host helper that panics ends its run with
//! [`Error::Run`] naming the helper (the panic is caught around the
//! closure only); the host and the other runs go on. Errors carry the
//! instruction index and, for ELF objects with line info, the source line.
//! Nothing here is global: linkers, maps and instances are values.

#![warn(missing_docs)]

mod error;
mod host;
mod instance;
mod linker;
mod program;

pub use error::{Error, SourceLine};
pub use host::{Arg, Call, HostFnBox, IntoHostFn};
pub use instance::{Instance, Runtime};
pub use ironbpf_maps::{Map, MapSpec};
pub use ironbpf_progtype::ProgTypeId;
pub use linker::Linker;
pub use program::{Program, ProgramType};
