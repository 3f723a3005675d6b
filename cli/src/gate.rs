//! Verify before run: `ironbpf run` and `ironbpf compare` put a program
//! through ironbpf's verifier first, as the kernel does at `BPF_PROG_LOAD`,
//! with the program's type, attach type, licence and the object's maps.

use ironbpf_loader::{Object, Program};
use ironbpf_verifier::{verify, VerifyOutcome};
use std::time::{Duration, Instant};

/// ironbpf's verifier's verdict on one program of an object.
pub(crate) struct Verdict {
    /// The outcome (the verdict, the log, the statistics).
    pub outcome: VerifyOutcome,
    /// How long the verification took.
    pub took: Duration,
}

impl Verdict {
    /// `None` when accepted; otherwise the refusal as the kernel's log would
    /// end it: `insn N: <error line>`.
    pub fn refusal(&self) -> Option<String> {
        self.outcome.result.as_ref().err().map(|r| r.to_string())
    }
}

/// Verifies `p` of `obj` as a privileged loader would load it, with the log
/// at `log_level` (0: the statistics lines only, as `BPF_LOG_STATS` alone
/// gives them; 1: the path to the verdict). `Err` when the program cannot be put to the verifier at all (a program
/// type it does not know, bytes that are not whole instructions).
pub(crate) fn verify_program(obj: &Object, p: &Program, log_level: u32) -> Result<Verdict, String> {
    let slots = ironbpf_isa::slots_from_bytes(&p.insns).map_err(|e| e.to_string())?;
    let opts = crate::cmd_verify::options(
        p,
        &obj.maps,
        &obj.license,
        log_level,
        false,
        obj.btf.as_deref(),
    )?;
    let start = Instant::now();
    let outcome = verify(&slots, &opts);
    Ok(Verdict {
        outcome,
        took: start.elapsed(),
    })
}
