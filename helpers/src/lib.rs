//! ironbpf-helpers: helper functions, as the engines and the verifier see
//! them.
//!
//! One table: each row ([`HelperEntry`]) holds a helper's kernel id and
//! name, its prototype ([`proto::Proto`]: the argument and return types the
//! verifier checks, and the program types that may call it) and its
//! implementation. [`HelperRegistry::standard`] is the table of the
//! kernel's helpers that ironbpf implements, with the kernel's semantics
//! (return values, errnos as negative r0, flag checks); an embedder adds
//! its own rows with [`HelperRegistry::register_with_proto`].
//!
//! [`catalog`] holds a prototype for every helper of Linux 6.18, implemented
//! here or not, and the kernel's `get_func_proto` for each program type and
//! attach type as data ([`catalog::func_proto`]: which helpers a type may
//! call and which prototype it gets, with the GPL, capability and sleepable
//! rules and the kernel's refusal messages); [`map_compat`] the kernel's
//! `check_map_func_compatibility`. Both are checked against the running
//! kernel by `ironbpf_conformance::probe_helpers`.
//!
//! [`abi`] is the call convention that the interpreter and the JIT share:
//! five arguments in r1-r5, the result in r0, and a [`HelperCtx`] through
//! which a helper reads and writes the memory a program hands it (checked
//! against the run's memory regions), changes the run's state (the packet's
//! bounds, a redirect), finds the program's maps, and calls back into the
//! program. [`env`](mod@env) is what the helpers see of the world: the current
//! task, the clocks, and the trace log the host reads.
//!
//! [`skb_room`] holds the helpers that reshape an skb at L2/L3
//! (`bpf_skb_change_type`, `_change_proto`, `_adjust_room`), [`tunnel`]
//! the tunnel metadata ones (`bpf_skb_set_tunnel_key`, `_get_tunnel_key`,
//! `_set_tunnel_opt`, `_get_tunnel_opt`), and [`fib`] those that read the
//! kernel's tables (`bpf_fib_lookup`, `bpf_redirect_neigh`, the socket
//! lookups and `bpf_sk_release`), which answer from a [`World`]
//! ([`world`]: interfaces, routes, neighbours and sockets read from JSON).
//!
//! Each helper is tested from a program in the interpreter
//! (`vm/tests/helpers*.rs`), and where the kernel can test-run it, against
//! the kernel on the same packet layout (`tests/kernel_diff.rs`,
//! `conformance/tests/helpers_*.rs`); the
//! program types of the table are the kernel's (`tests/kernel_protos.rs`).
//! Where userspace cannot be the kernel, the table says what it does
//! instead:
//!
//! - the `bpf_probe_read_*` helpers read the host process's memory (both
//!   "kernel" and "user"), fault-safe; `_kernel` reads of the never-mapped
//!   first 64 KiB are `-ERANGE`, as the kernel's of NULL;
//! - `%p` hashes with a per-process key, `bpf_get_hash_recalc` with a fixed
//!   one, socket cookies count from 1: the kernel's values are per boot;
//! - `bpf_get_current_*` describe the calling thread of the host process
//!   unless the embedder sets a task ([`HelperEnv::set_task`]);
//!   `bpf_get_current_task`, `bpf_get_func_ip` and `bpf_get_attach_cookie`
//!   return 0;
//! - `bpf_redirect_map` on a devmap, devmap_hash, cpumap or xskmap answers
//!   as the kernel's (`BPF_F_BROADCAST`, `BPF_F_EXCLUDE_INGRESS`, the
//!   fallback action); on any other map (which the kernel's verifier
//!   refuses) it redirects when the key is present; a map of maps names
//!   its inner maps by their ids in the program's map set (a lookup gives
//!   the inner map's handle);
//! - the helpers that read kernel tables (`bpf_fib_lookup`,
//!   `bpf_redirect_neigh`, the socket lookups) read a [`World`] the user
//!   describes in JSON ([`HelperEnv::set_world`]; `docs/world.md`); the
//!   default is a fresh network namespace: only `lo`, no route, no
//!   neighbour, no socket;
//! - tunnel metadata (`bpf_skb_set_tunnel_key`) lives in the run's state,
//!   as the kernel's lives on the skb;
//! - a tail call from a subprogram or a callback is refused by the engine;
//! - a packet handed to an engine as a plain slice has no room to grow
//!   (`ironbpf_vm::testrun` lays it out as the kernel's test run does).
//!
//! ```
//! use ironbpf_helpers::proto::{args, progs, Proto, RetType};
//! use ironbpf_helpers::HelperRegistry;
//! let mut helpers = HelperRegistry::standard();
//! assert_eq!(helpers.entry(5).unwrap().name, "bpf_ktime_get_ns");
//! let proto = Proto::new(RetType::Integer, &[("a", args::ANY), ("b", args::ANY)], progs::ALL);
//! helpers.register_with_proto(1000, "add", proto, |_, a| Ok(a[0].wrapping_add(a[1])));
//! assert_eq!(helpers.entry(1000).unwrap().signature(), "long add(a: ARG_ANYTHING, b: ARG_ANYTHING)");
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

pub mod abi;
pub mod catalog;
mod clone_redirect;
mod dynptr;
pub mod env;
pub mod fib;
pub mod format;
pub mod hostmem;
pub mod map_calls;
pub mod map_compat;
pub mod misc;
pub mod net;
pub mod probe;
pub mod proto;
pub mod skb_room;
pub mod table;
pub mod tunnel;
pub mod world;

/// The program-type names [`catalog::func_proto`] takes.
pub use ironbpf_progtype;

pub use abi::{
    Callbacks, FnHelper, Helper, HelperCtx, HelperEntry, HelperError, HelperRegistry, Packet,
    PacketKind, Redirect, RunState, TunnelInfo, FUNC_HANDLE_BASE,
};
pub use env::{HelperEnv, TaskInfo, TraceRecord};
pub use map_calls::register_map_helpers;
pub use world::{World, WorldError};
