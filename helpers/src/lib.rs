//! ironbpf-helpers: helper functions, as the engines and the verifier see
//! them.
//!
//! [`abi`] is the call convention that the interpreter and the JIT share:
//! five arguments in r1-r5, the result in r0, a [`HelperRegistry`] by id, and
//! a [`HelperCtx`] through which a helper reads and writes the memory a
//! program hands it, checked against the run's memory regions. [`proto`]
//! holds the kernel's prototypes (`struct bpf_func_proto`) that the verifier
//! checks calls against.
//!
//! ```
//! use ironbpf_helpers::{HelperError, HelperRegistry};
//! let mut helpers = HelperRegistry::new();
//! helpers.register_fn(1000, "add", |_, a| Ok(a[0].wrapping_add(a[1])));
//! assert_eq!(helpers.get(1000).unwrap().name(), "add");
//! ```

pub mod abi;
pub mod format;
pub mod map_calls;
pub mod proto;
pub mod std_helpers;

pub use abi::{FnHelper, Helper, HelperCtx, HelperError, HelperRegistry};
pub use map_calls::register_map_helpers;
