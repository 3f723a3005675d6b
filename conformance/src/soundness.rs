//! Soundness of ironbpf's verifier: every program it accepts must run in
//! the checked interpreter without a memory violation, whatever the input.
//!
//! Programs come from the verifier's generator ([`crate::vgen`], safe and
//! rule-breaking ones over its six program types, privileged and not) and,
//! every fourth seed, from the execution differential's generator
//! ([`crate::gen`], XDP programs with packet bounds checks and map lookups).
//! Each one ironbpf's verifier accepts runs [`SoundnessOptions::runs`] times
//! in the checked interpreter, each time on fresh random input: the maps'
//! contents, the context bytes (kprobe, tracepoint) or a packet of random
//! length (from the 14-byte minimum the test run allows; short packets
//! exercise the bounds checks). Any error of the checked interpreter other
//! than a budget stop (a generated loop may run long) is a violation: an
//! access the verifier proved safe that is not.
//!
//! Everything is a pure function of the seed: a violation is replayed with
//! the seed it is printed with.

use crate::gen::{self, Rng, DIFF_MAPS, DIFF_VALUE_SIZE};
use crate::vgen;
use ironbpf_isa::{Program, RawInsn};
use ironbpf_maps::{Map, MapSet, MapSpec};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{MapInfo, VerifyOptions};
use ironbpf_vm::object::MapResolver;
use ironbpf_vm::{
    engine, progtype, testrun, HelperEnv, HelperRegistry, Interpreter, Options, VmError,
};
use std::fmt;
use std::sync::Arc;

/// Where a program came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// [`vgen::generate`].
    Vgen,
    /// [`gen::generate`] (XDP, privileged).
    Gen,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Vgen => "vgen",
            Source::Gen => "gen",
        })
    }
}

/// One run of an accepted program that the checked interpreter stopped.
#[derive(Clone, Debug)]
pub struct Violation {
    pub source: Source,
    /// The generator's seed.
    pub seed: u64,
    pub prog_type: ProgTypeId,
    /// Which of the program's runs (its input is drawn from the seed and
    /// this number).
    pub run: u32,
    /// The input: the packet's length or the context's.
    pub input: String,
    /// The checked interpreter's error.
    pub error: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VIOLATION {} seed {} ({}, run {}, {}): {}",
            self.source,
            self.seed,
            self.prog_type.name(),
            self.run,
            self.input,
            self.error
        )
    }
}

/// How a soundness run goes.
#[derive(Clone, Copy, Debug)]
pub struct SoundnessOptions {
    /// Runs per accepted program, each on new input.
    pub runs: u32,
    /// Instructions a run may execute before it is stopped (a budget stop,
    /// not a violation).
    pub budget: u64,
}

impl Default for SoundnessOptions {
    fn default() -> Self {
        SoundnessOptions {
            runs: 4,
            budget: 200_000,
        }
    }
}

/// What a soundness run found.
#[derive(Clone, Debug, Default)]
pub struct SoundnessSummary {
    /// Programs generated and verified.
    pub generated: u64,
    /// Of those, accepted by ironbpf's verifier.
    pub accepted: u64,
    /// Accepted programs per source: (vgen, gen).
    pub accepted_by_source: (u64, u64),
    /// Runs in the checked interpreter.
    pub runs: u64,
    /// Runs that reached the budget.
    pub budget_stops: u64,
    /// Every violation found.
    pub violations: Vec<Violation>,
}

impl fmt::Display for SoundnessSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} programs generated, {} accepted by ironbpf's verifier ({} from vgen, {} from gen); {} runs stopped by the budget",
            self.generated,
            self.accepted,
            self.accepted_by_source.0,
            self.accepted_by_source.1,
            self.budget_stops
        )?;
        write!(
            f,
            "{} accepted, {} runs, {} violations",
            self.accepted,
            self.runs,
            self.violations.len()
        )
    }
}

/// A candidate program with what its verifier and runs need.
struct Candidate {
    source: Source,
    seed: u64,
    prog_type: ProgTypeId,
    insns: Vec<RawInsn>,
    opts: VerifyOptions,
}

fn vgen_candidate(seed: u64) -> Candidate {
    let p = vgen::generate(seed);
    Candidate {
        source: Source::Vgen,
        seed,
        prog_type: p.prog_type,
        opts: p.verify_options(0),
        insns: p.insns,
    }
}

/// The maps [`gen`] programs use, as ironbpf's verifier sees them.
fn gen_map_infos() -> Vec<MapInfo> {
    DIFF_MAPS
        .iter()
        .enumerate()
        .map(|(i, &(map_type, max_entries))| MapInfo {
            name: format!("diff_map{i}"),
            map_type,
            key_size: 4,
            value_size: DIFF_VALUE_SIZE as u32,
            max_entries,
            map_flags: 0,
            frozen_readonly: false,
            record: Default::default(),
        })
        .collect()
}

/// The options ironbpf's verifier gets for a [`gen`] program: XDP,
/// privileged, the [`DIFF_MAPS`].
pub fn gen_verify_options(log_level: u32) -> VerifyOptions {
    let mut opts = VerifyOptions::new(ProgTypeId::Xdp);
    opts.privileged = true;
    opts.maps = gen_map_infos();
    opts.log_level = log_level;
    opts
}

fn gen_candidate(seed: u64) -> Candidate {
    let p = gen::generate(seed);
    let opts = gen_verify_options(0);
    Candidate {
        source: Source::Gen,
        seed,
        prog_type: ProgTypeId::Xdp,
        insns: p.insns.iter().flat_map(|i| i.encode()).collect(),
        opts,
    }
}

/// The maps of one source, created once and refilled before every run.
struct RunMaps {
    set: Arc<MapSet>,
    maps: Vec<Arc<dyn Map>>,
}

impl RunMaps {
    fn new(infos: &[MapInfo]) -> Result<RunMaps, String> {
        let set = Arc::new(MapSet::new());
        let mut maps = Vec::new();
        for m in infos {
            let mut spec = MapSpec::new(m.map_type, m.key_size, m.value_size, m.max_entries);
            spec.map_flags = m.map_flags;
            let (_, map) = set
                .create(&spec)
                .map_err(|e| format!("cannot create map {}: {e}", m.name))?;
            maps.push(map);
        }
        Ok(RunMaps { set, maps })
    }

    /// Random contents: every array element, and a random set of the keys
    /// 0..8 in a hash map (the keys generated programs look up).
    fn refill(&self, rng: &mut Rng) -> Result<(), String> {
        for m in &self.maps {
            let spec = m.spec().clone();
            let mut value = vec![0u8; spec.value_size as usize];
            let hash = spec.map_type == gen::DIFF_MAP_HASH;
            let keys = if hash { 8 } else { spec.max_entries };
            for k in 0..keys {
                let key = k.to_ne_bytes();
                if hash && (k >= spec.max_entries || rng.chance(1, 3)) {
                    let _ = m.delete(&key);
                    continue;
                }
                for b in value.iter_mut() {
                    *b = rng.below(256) as u8;
                }
                m.update(&key, &value, 0)
                    .map_err(|e| format!("cannot fill map {}: {e}", spec.name))?;
            }
        }
        Ok(())
    }
}

/// A packet length: short ones (to the 64 bytes most checks ask for) half
/// the time, up to 1500 bytes otherwise.
fn packet_len(rng: &mut Rng) -> usize {
    if rng.chance(1, 2) {
        14 + rng.below(51) as usize
    } else {
        14 + rng.below(1487) as usize
    }
}

/// Runs one accepted program once on input drawn from `rng`; `Ok` holds
/// whether the budget stopped it, `Err` the input and the violation.
fn run_once(
    vm: &Interpreter,
    prog_type: ProgTypeId,
    maps: &RunMaps,
    rng: &mut Rng,
) -> Result<bool, (String, VmError)> {
    let resolver = MapResolver(maps.set.clone());
    let pt = progtype::by_kernel_id(prog_type.kernel_id()).ok_or_else(|| {
        (
            String::new(),
            VmError::Setup(format!(
                "ironbpf has no descriptor for {}",
                prog_type.name()
            )),
        )
    })?;
    let (input, r) = if testrun::runs(pt) {
        let mut data = vec![0u8; packet_len(rng)];
        for b in data.iter_mut() {
            *b = rng.below(256) as u8;
        }
        let input = format!("a {}-byte packet", data.len());
        let r = testrun::run(vm, pt, &testrun::TestRun::packet(&data), Some(&resolver)).map(|_| ());
        (input, r)
    } else {
        let mut ctx = vec![0u8; pt.ctx_size as usize];
        for b in ctx.iter_mut() {
            *b = rng.below(256) as u8;
        }
        let input = format!("a random {}-byte context", ctx.len());
        let r =
            engine::run_ctx_into(vm, pt, None, &mut ctx, None, Some(&resolver), None).map(|_| ());
        (input, r)
    };
    match r {
        Ok(()) => Ok(false),
        Err(VmError::BudgetExhausted { .. }) => Ok(true),
        Err(e) => Err((input, e)),
    }
}

/// The helpers and maps of one source.
struct Runtime {
    helpers: HelperRegistry,
    maps: RunMaps,
}

/// Verifies and runs one candidate, adding to `s`.
fn check_candidate(
    c: &Candidate,
    rt: &Runtime,
    opts: &SoundnessOptions,
    s: &mut SoundnessSummary,
) -> Result<(), String> {
    s.generated += 1;
    let out = ironbpf_verifier::verify(&c.insns, &c.opts);
    if out.result.is_err() {
        return Ok(());
    }
    s.accepted += 1;
    match c.source {
        Source::Vgen => s.accepted_by_source.0 += 1,
        Source::Gen => s.accepted_by_source.1 += 1,
    }
    run_candidate(c, rt, opts, s)
}

/// Runs `c` (verified or not) [`SoundnessOptions::runs`] times, adding
/// runs, budget stops and violations to `s`.
fn run_candidate(
    c: &Candidate,
    rt: &Runtime,
    opts: &SoundnessOptions,
    s: &mut SoundnessSummary,
) -> Result<(), String> {
    let violation = |run: u32, input: String, error: String| Violation {
        source: c.source,
        seed: c.seed,
        prog_type: c.prog_type,
        run,
        input,
        error,
    };
    let prog = match Program::from_slots(c.insns.clone()) {
        Ok(p) => p,
        Err(e) => {
            s.violations.push(violation(
                0,
                String::new(),
                format!("accepted, but the interpreter cannot decode it: {e}"),
            ));
            return Ok(());
        }
    };
    let options = Options {
        budget: opts.budget,
        // The verifier's path-sensitive check replaces this one.
        check_registers: false,
        ..Options::default()
    };
    let helpers = rt.helpers.for_prog_type(c.prog_type.kernel_id());
    let resolver = MapResolver(rt.maps.set.clone());
    let vm = match Interpreter::with_resolver(&prog, &helpers, options, Some(&resolver)) {
        Ok(vm) => vm,
        Err(e) => {
            s.violations.push(violation(
                0,
                String::new(),
                format!("accepted, but the interpreter refuses it: {e}"),
            ));
            return Ok(());
        }
    };
    for run in 0..opts.runs {
        // The input of run `run` of seed `seed`: replayable from the two.
        let mut rng = Rng::new(
            c.seed
                .wrapping_mul(0x9e37_79b9)
                .wrapping_add(u64::from(run) << 32 | (c.source as u64)),
        );
        rt.maps.refill(&mut rng)?;
        s.runs += 1;
        match run_once(&vm, c.prog_type, &rt.maps, &mut rng) {
            Ok(stopped) => s.budget_stops += u64::from(stopped),
            Err((input, e)) => s.violations.push(violation(run, input, e.to_string())),
        }
    }
    Ok(())
}

/// Generates programs from `seed` on (seed `s` gives `vgen::generate(s)`,
/// and `gen::generate(s)` too when `s` is a multiple of 4) until ironbpf's
/// verifier has accepted `n` of them (or 20·`n` were generated), running
/// each accepted one. `progress` is called after each program.
pub fn run_soundness(
    n: u64,
    seed: u64,
    opts: &SoundnessOptions,
    mut progress: impl FnMut(&SoundnessSummary),
) -> Result<SoundnessSummary, String> {
    let env = Arc::new(HelperEnv::host());
    let helpers = HelperRegistry::standard_with(env);
    let vgen_infos = vgen::vgen_map_infos();
    let vgen_rt = Runtime {
        helpers: helpers.clone(),
        maps: RunMaps::new(&vgen_infos)?,
    };
    let gen_rt = Runtime {
        helpers,
        maps: RunMaps::new(&gen_map_infos())?,
    };
    let mut s = SoundnessSummary::default();
    let mut k = seed;
    while s.accepted < n && s.generated < n.saturating_mul(20) {
        check_candidate(&vgen_candidate(k), &vgen_rt, opts, &mut s)?;
        progress(&s);
        if k.is_multiple_of(4) && s.accepted < n {
            check_candidate(&gen_candidate(k), &gen_rt, opts, &mut s)?;
            progress(&s);
        }
        k = k.wrapping_add(1);
    }
    Ok(s)
}

/// Runs a program the kernel accepted and ironbpf refused, as the
/// soundness check runs accepted ones, to tell a kernel departure (the
/// program really does break memory safety) from ironbpf's error: the
/// first violation found in `runs` runs, with the seed of its inputs.
pub fn violation_of(
    insns: &[RawInsn],
    prog_type: ProgTypeId,
    maps: &[MapInfo],
    seed: u64,
    runs: u32,
) -> Result<Option<Violation>, String> {
    let rt = Runtime {
        helpers: HelperRegistry::standard_with(Arc::new(HelperEnv::host())),
        maps: RunMaps::new(maps)?,
    };
    let c = Candidate {
        source: Source::Vgen,
        seed,
        prog_type,
        insns: insns.to_vec(),
        opts: VerifyOptions::new(prog_type),
    };
    let mut s = SoundnessSummary::default();
    let opts = SoundnessOptions {
        runs,
        ..SoundnessOptions::default()
    };
    run_candidate(&c, &rt, &opts, &mut s)?;
    Ok(s.violations.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_of_a_run_depends_on_its_seed_only() {
        let a = gen_candidate(8);
        let b = gen_candidate(8);
        let words = |c: &Candidate| c.insns.iter().map(|i| i.to_u64()).collect::<Vec<_>>();
        assert_eq!(words(&a), words(&b));
        let mut r1 = Rng::new(5);
        let mut r2 = Rng::new(5);
        assert_eq!(packet_len(&mut r1), packet_len(&mut r2));
    }

    /// The runs catch what the verifier should have refused: an XDP program
    /// that reads the packet 2000 bytes in without a bounds check faults on
    /// every packet shorter than that, and the summary names it.
    #[test]
    fn an_unchecked_packet_read_is_a_violation() {
        let prog = ironbpf_isa::assemble_program(
            "r2 = *(u32 *)(r1 +0)\nr0 = *(u8 *)(r2 +2000)\nr0 = 0\nexit",
        )
        .unwrap();
        let v = violation_of(prog.slots(), ProgTypeId::Xdp, &gen_map_infos(), 3, 8)
            .unwrap()
            .expect("a packet read past 2000 bytes faults on a short packet");
        assert_eq!(v.seed, 3);
        assert!(v.input.contains("packet"), "{v}");
        // The same program with a bounds check is accepted and runs clean.
        let safe = ironbpf_isa::assemble_program(
            "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 1\nif r4 > r3 goto +1\nr0 = *(u8 *)(r2 +0)\nr0 = 2\nexit",
        )
        .unwrap();
        let mut s = SoundnessSummary::default();
        let rt = Runtime {
            helpers: HelperRegistry::standard_with(Arc::new(HelperEnv::host())),
            maps: RunMaps::new(&gen_map_infos()).unwrap(),
        };
        let c = Candidate {
            source: Source::Gen,
            seed: 3,
            prog_type: ProgTypeId::Xdp,
            insns: safe.slots().to_vec(),
            opts: gen_verify_options(0),
        };
        check_candidate(&c, &rt, &SoundnessOptions::default(), &mut s).unwrap();
        assert_eq!((s.accepted, s.runs, s.violations.len()), (1, 4, 0), "{s}");
    }

    /// A pinned small soundness run: every accepted program runs clean.
    #[test]
    fn a_pinned_run_finds_no_violation() {
        let s = run_soundness(600, 11, &SoundnessOptions::default(), |_| {}).unwrap();
        for v in &s.violations {
            eprintln!("{v}");
        }
        assert_eq!(s.accepted, 600, "{s}");
        assert!(
            s.accepted_by_source.0 > 200 && s.accepted_by_source.1 > 100,
            "{s}"
        );
        assert_eq!(s.runs, 2400);
        assert!(s.violations.is_empty(), "{s}");
    }
}
