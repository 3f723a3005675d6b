//! Program types as data: the one home of everything the kernel's
//! `bpf_verifier_ops` and `bpf_prog_type` tables say about a program type.
//!
//! Every other crate (the loader's section names, the verifier's context
//! checks and return-value check, the helper table's per-type prototypes,
//! both engines and the CLI) asks this crate; nothing outside it matches raw
//! `BPF_PROG_TYPE_*` or `BPF_*` attach-type numbers.
//!
//! - [`ProgTypeId`]: the kernel's `enum bpf_prog_type`, by name.
//! - [`AttachType`]: the kernel's `enum bpf_attach_type`, by name.
//! - [`desc`]: the descriptor of a program type ([`desc::ProgTypeDesc`]):
//!   context layout and access rules (`is_valid_access`), what a context
//!   load yields, the legal return range (`check_return_code`). Descriptors
//!   are ordinary values: an embedder builds its own at run time.
//! - [`sec`]: libbpf's `SEC()` names and the aliases of each type.

mod builtin;
pub mod desc;
mod ids;
pub mod sec;

pub use desc::{
    AccessKind, AccessRule, CtxAccess, CtxAccessOk, CtxField, CtxRefusal, CtxYield, ProgTypeDesc,
    RetRange,
};
pub use ids::{AttachType, ProgTypeId};
