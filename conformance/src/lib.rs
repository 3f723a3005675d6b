//! ironbpf-conformance: the bpf_conformance test format and the engines'
//! test runner.
//!
//! [`data`] reads `.data` test files, [`conf_asm`] assembles their `-- asm`
//! syntax, [`runner`] runs them on an engine (the interpreter here; the
//! kernel and the JIT plug in through [`runner::TestEngine`]) and judges each
//! against what the file expects. [`ubpf_helpers`] provides the test helpers
//! uBPF's suite calls.
//!
//! ```no_run
//! use ironbpf_conformance::runner::{collect_files, run_file, ErrorText, InterpEngine, Summary};
//! let files = collect_files(&["../shared/conformance/bpf_conformance".into()]).unwrap();
//! let engine = InterpEngine::default();
//! let reports: Vec<_> = files.iter().map(|f| run_file(f, &engine, ErrorText::Exact)).collect();
//! println!("{}", Summary::of(&reports));
//! ```

pub mod conf_asm;
pub mod data;
pub mod descriptors;
pub mod diff;
pub mod explaindiff;
pub mod gen;
pub mod jitdiff;
pub mod kernel;
pub mod probe_helpers;
pub mod runner;
pub mod soundness;
pub mod ubpf_helpers;
pub mod vgen;
