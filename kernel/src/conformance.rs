//! bpf_conformance-style programs in the kernel.
//!
//! A conformance program expects r1 = its input memory and r2 = the memory's
//! length, and returns a 64-bit r0. The kernel gives a program only its
//! context and returns 32 bits of r0, so the program is wrapped:
//! - a prologue sets r1 to the memory, which lives in a one-element array
//!   map (`r1 = map_value(fd) + 0`, a `BPF_PSEUDO_MAP_VALUE` ld_imm64), and r2
//!   to its length. bpf_conformance's own Linux plugin passes the memory as
//!   packet data instead; as a map value its bounds are known to the verifier,
//!   so the kernel accepts the tests that read memory without bounds checks;
//! - every exit of the main function becomes a jump to an epilogue, placed
//!   at the end of the main function (the verifier refuses jumps between
//!   functions), that stores the whole r0 in a second array map and exits.
//!
//! The program runs as XDP on a 14-byte (empty Ethernet header) packet.

use ironbpf_isa::RawInsn;

use crate::{load_program, KernelError, KernelMap, MapCreate, ProgLoad, TestRun};

/// What the kernel did with a conformance program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConformanceOutcome {
    /// It ran: the 64-bit r0 and the memory after the run.
    Ran { r0: u64, memory: Vec<u8> },
    /// The verifier refused it: the log line that says why, and the whole log.
    Refused {
        line: String,
        errno: i32,
        log: String,
    },
}

/// Why a conformance program could not even be offered to the kernel.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    #[error("{0}")]
    Kernel(#[from] KernelError),
    #[error("the wrapped program is too large: the jump at instruction {pc} would need an offset of {offset}")]
    TooFar { pc: usize, offset: i64 },
    #[error("instruction {pc}: {what}")]
    Malformed { pc: usize, what: String },
}

const PROLOGUE_WITH_MEMORY: usize = 3;
const PROLOGUE_WITHOUT: usize = 2;
const EPILOGUE: usize = 4;

const BPF_JMP: u8 = 0x05;
const BPF_JMP32: u8 = 0x06;
const BPF_CALL: u8 = 0x80;
const BPF_EXIT: u8 = 0x90;
const BPF_JA: u8 = 0x00;
const BPF_PSEUDO_CALL: u8 = 1;
const BPF_PSEUDO_FUNC: u8 = 4;
const BPF_PSEUDO_MAP_VALUE: u8 = 2;
const LD_IMM64: u8 = 0x18;

fn raw(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
    RawInsn {
        code: opcode,
        dst,
        src,
        off,
        imm,
    }
}

/// Where a slot's control transfer lands, as an old slot index.
fn target(pc: usize, i: &RawInsn) -> Option<(i64, bool)> {
    let class = i.code & 7;
    if class == BPF_JMP || class == BPF_JMP32 {
        let op = i.code & 0xf0;
        if op == BPF_EXIT {
            return None;
        }
        if op == BPF_CALL {
            return (class == BPF_JMP && i.src == BPF_PSEUDO_CALL)
                .then_some((pc as i64 + 1 + i.imm as i64, true));
        }
        if op == BPF_JA && class == BPF_JMP32 {
            // gotol: the offset is in imm.
            return Some((pc as i64 + 1 + i.imm as i64, true));
        }
        return Some((pc as i64 + 1 + i.off as i64, false));
    }
    if i.code == LD_IMM64 && i.src == BPF_PSEUDO_FUNC {
        return Some((pc as i64 + 1 + i.imm as i64, true));
    }
    None
}

/// Wraps `slots` as the module documentation says. Returns the new slots.
pub fn wrap(
    slots: &[RawInsn],
    memory_fd: Option<(i32, u32)>,
    result_fd: i32,
) -> Result<Vec<RawInsn>, ConformanceError> {
    let n = slots.len();
    // The main function ends where the first other function starts.
    let mut main_end = n;
    let mut pc = 0;
    while pc < n {
        if let Some((t, true)) = target(pc, &slots[pc]) {
            if t > 0 && (t as usize) < main_end {
                main_end = t as usize;
            }
        }
        pc += if slots[pc].code == LD_IMM64 { 2 } else { 1 };
    }
    let pro = if memory_fd.is_some() {
        PROLOGUE_WITH_MEMORY
    } else {
        PROLOGUE_WITHOUT
    };
    let new_pos = |old: i64| -> i64 {
        if old >= main_end as i64 {
            old + pro as i64 + EPILOGUE as i64
        } else {
            old + pro as i64
        }
    };
    let epilogue_at = (pro + main_end) as i64;

    let mut out = Vec::with_capacity(n + pro + EPILOGUE);
    match memory_fd {
        Some((fd, len)) => {
            out.push(raw(LD_IMM64, 1, BPF_PSEUDO_MAP_VALUE, 0, fd));
            out.push(raw(0, 0, 0, 0, 0));
            out.push(raw(0xb7, 2, 0, 0, len as i32));
        }
        None => {
            out.push(raw(0xb7, 1, 0, 0, 0));
            out.push(raw(0xb7, 2, 0, 0, 0));
        }
    }
    let mut epilogue = vec![
        raw(LD_IMM64, 1, BPF_PSEUDO_MAP_VALUE, 0, result_fd),
        raw(0, 0, 0, 0, 0),
        raw(0x7b, 1, 0, 0, 0), // *(u64 *)(r1 + 0) = r0
        raw(0x95, 0, 0, 0, 0),
    ];
    let mut pc = 0;
    while pc < n {
        if pc == main_end {
            out.append(&mut epilogue);
        }
        let mut insn = slots[pc];
        let here = new_pos(pc as i64);
        let class = insn.code & 7;
        if pc < main_end && class == BPF_JMP && insn.code & 0xf0 == BPF_EXIT {
            let off = epilogue_at - here - 1;
            insn = raw(BPF_JMP | BPF_JA, 0, 0, checked_off(pc, off)?, 0);
        } else if let Some((t, in_imm)) = target(pc, &insn) {
            let off = new_pos(t) - here - 1;
            if in_imm {
                insn.imm =
                    i32::try_from(off).map_err(|_| ConformanceError::TooFar { pc, offset: off })?;
            } else {
                insn.off = checked_off(pc, off)?;
            }
        }
        out.push(insn);
        if insn.code == LD_IMM64 {
            let next = slots
                .get(pc + 1)
                .copied()
                .ok_or_else(|| ConformanceError::Malformed {
                    pc,
                    what: "ld_imm64 is missing its second slot".into(),
                })?;
            out.push(next);
            pc += 2;
        } else {
            pc += 1;
        }
    }
    if main_end == n {
        out.append(&mut epilogue);
    }
    Ok(out)
}

fn checked_off(pc: usize, off: i64) -> Result<i16, ConformanceError> {
    i16::try_from(off).map_err(|_| ConformanceError::TooFar { pc, offset: off })
}

/// Runs a conformance program in the kernel with `memory` as its input.
pub fn run_conformance(
    slots: &[RawInsn],
    memory: &[u8],
) -> Result<ConformanceOutcome, ConformanceError> {
    let value_size = memory.len().max(1).next_multiple_of(8) as u32;
    let mem_map = if memory.is_empty() {
        None
    } else {
        let m = KernelMap::create(&MapCreate {
            name: "conf_mem".into(),
            ..MapCreate::new(crate::BPF_MAP_TYPE_ARRAY, 4, value_size, 1)
        })?;
        let mut value = memory.to_vec();
        value.resize(value_size as usize, 0);
        m.update(&0u32.to_ne_bytes(), &value, 0).map_err(|e| {
            KernelError::new("BPF_MAP_UPDATE_ELEM", e).with_context("the conformance memory")
        })?;
        Some(m)
    };
    let result_map = KernelMap::create(&MapCreate {
        name: "conf_r0".into(),
        ..MapCreate::new(crate::BPF_MAP_TYPE_ARRAY, 4, 8, 1)
    })?;
    let wrapped = wrap(
        slots,
        mem_map.as_ref().map(|m| (m.raw_fd(), memory.len() as u32)),
        result_map.raw_fd(),
    )?;
    let words: Vec<u64> = wrapped.iter().map(|i| i.to_u64()).collect();
    let load = load_program(&ProgLoad {
        prog_type: crate::BPF_PROG_TYPE_XDP,
        insns: &words,
        name: "conformance",
        log_level: crate::BPF_LOG_LEVEL1,
        ..Default::default()
    });
    let prog = match load.result {
        Ok(p) => p,
        Err(e) => {
            let line = load
                .first_error_line
                .clone()
                .unwrap_or_else(|| e.to_string());
            return Ok(ConformanceOutcome::Refused {
                line,
                errno: e.errno,
                log: load.log,
            });
        }
    };
    prog.test_run(&TestRun {
        data: &[0u8; 14],
        ..Default::default()
    })?;
    let mut r0 = [0u8; 8];
    result_map
        .lookup(&0u32.to_ne_bytes(), &mut r0, 0)
        .map_err(|e| {
            KernelError::new("BPF_MAP_LOOKUP_ELEM", e).with_context("the conformance result")
        })?;
    let mut after = vec![0u8; value_size as usize];
    if let Some(m) = &mem_map {
        m.lookup(&0u32.to_ne_bytes(), &mut after, 0).map_err(|e| {
            KernelError::new("BPF_MAP_LOOKUP_ELEM", e).with_context("the conformance memory")
        })?;
    }
    after.truncate(memory.len());
    Ok(ConformanceOutcome::Ran {
        r0: u64::from_ne_bytes(r0),
        memory: after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_of_main_jump_to_the_epilogue_and_calls_skip_it() {
        // 0: call +2 (to 3); 1: exit; 2: (pad) r0 = 0; 3: r0 = 1; 4: exit
        let prog = [
            raw(0x85, 0, 1, 0, 2),
            raw(0x95, 0, 0, 0, 0),
            raw(0xb7, 0, 0, 0, 0),
            raw(0xb7, 0, 0, 0, 1),
            raw(0x95, 0, 0, 0, 0),
        ];
        let out = wrap(&prog, None, 7).unwrap();
        // prologue 2, then main [0..3) at 2..5, epilogue at 5..9, subprog at 9..
        assert_eq!(out.len(), 2 + 5 + 4);
        assert_eq!(out[2].imm, 9 - 2 - 1, "the call still reaches r0 = 1");
        assert_eq!(
            (out[3].code, out[3].off),
            (0x05, 5 - 3 - 1),
            "the main exit jumps to the epilogue"
        );
        assert_eq!(out[5].code, LD_IMM64);
        assert_eq!(out[10].code, 0x95, "the subprogram's exit stays");
    }
}
