//! The real kernel as an engine: for conformance files ([`KernelEngine`]) and
//! for the random XDP differential ([`KernelXdp`]).

use crate::diff::{contents, XdpEngine, XdpOutcome};
use crate::gen::{GenProgram, DIFF_MAPS, DIFF_VALUE_SIZE};
use crate::runner::{EngineOutcome, TestEngine};
use ironbpf_isa::RawInsn;
use ironbpf_kernel::conformance::{run_conformance, ConformanceOutcome};
use ironbpf_kernel::{
    errno_name, load_program, KernelMap, MapCreate, ProgLoad, TestRun, BPF_PROG_TYPE_XDP,
};

/// bpf_conformance programs through `BPF_PROG_LOAD` and `BPF_PROG_TEST_RUN`
/// (see `ironbpf_kernel::conformance` for how they get r1, r2 and a 64-bit r0).
/// A program the verifier refuses is skipped as `kernel refused: <reason>`.
pub struct KernelEngine(());

impl KernelEngine {
    /// Fails with the probe's reason when the kernel cannot be used.
    pub fn new() -> Result<Self, String> {
        ironbpf_kernel::probe().map_err(|e| format!("the kernel cannot be used: {e}"))?;
        Ok(KernelEngine(()))
    }
}

impl TestEngine for KernelEngine {
    fn name(&self) -> &str {
        "kernel"
    }

    fn run(&self, slots: &[RawInsn], mem: &[u8]) -> EngineOutcome {
        match run_conformance(slots, mem) {
            Ok(ConformanceOutcome::Ran { r0, .. }) => EngineOutcome::Returned(r0),
            Ok(ConformanceOutcome::Refused { line, .. }) => {
                EngineOutcome::Skipped(format!("kernel refused: {line}"))
            }
            Err(e) => EngineOutcome::Failed(e.to_string()),
        }
    }
}

/// XDP programs loaded and test-run in the kernel.
pub struct KernelXdp(());

impl KernelXdp {
    /// Fails with the probe's reason when the kernel cannot be used.
    pub fn new() -> Result<Self, String> {
        ironbpf_kernel::probe().map_err(|e| format!("the kernel cannot be used: {e}"))?;
        Ok(KernelXdp(()))
    }
}

impl XdpEngine for KernelXdp {
    fn name(&self) -> &str {
        "kernel"
    }

    fn run(&self, case: &GenProgram) -> XdpOutcome {
        let mut maps = Vec::with_capacity(DIFF_MAPS.len());
        for (&(kind, max), init) in DIFF_MAPS.iter().zip(&case.maps) {
            let map = match KernelMap::create(&MapCreate::new(kind, 4, DIFF_VALUE_SIZE as u32, max))
            {
                Ok(m) => m,
                Err(e) => return XdpOutcome::Failed(e.to_string()),
            };
            for (k, v) in init {
                if let Err(e) = map.update(&k.to_ne_bytes(), v, 0) {
                    return XdpOutcome::Failed(format!(
                        "cannot fill the kernel map: {}",
                        errno_name(e)
                    ));
                }
            }
            maps.push(map);
        }
        let fds: Vec<i32> = maps.iter().map(|m| m.raw_fd()).collect();
        let words: Vec<u64> = case
            .insns
            .iter()
            .flat_map(|i| i.encode())
            .map(|s| s.to_u64())
            .collect();
        // No log unless refused: load_program asks again with one to say why.
        let load = load_program(&ProgLoad {
            prog_type: BPF_PROG_TYPE_XDP,
            insns: &words,
            name: "diff",
            log_level: 0,
            fd_array: &fds,
            ..Default::default()
        });
        let prog = match load.result {
            Ok(p) => p,
            Err(e) => {
                return XdpOutcome::Refused(load.first_error_line.unwrap_or_else(|| e.to_string()))
            }
        };
        let run = TestRun {
            data: &case.packet,
            data_out_size: case.packet.len(),
            ..Default::default()
        };
        match prog.test_run(&run) {
            Ok(out) => XdpOutcome::Ran {
                retval: out.retval,
                packet: out.data_out,
                maps: maps
                    .iter()
                    .zip(DIFF_MAPS)
                    .map(|(m, (_, max))| contents(max, |k, v| m.lookup(k, v, 0).is_ok()))
                    .collect(),
            },
            Err(e) => XdpOutcome::Failed(e.to_string()),
        }
    }
}
