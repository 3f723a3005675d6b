//! The control-flow graph as Graphviz DOT: one cluster per subprogram,
//! basic blocks with their instructions and source lines, the failing
//! path's blocks and edges highlighted and the failing state written in
//! the failing block.

use super::{Explanation, SourceLine};
use ironbpf_isa::{CallTarget, Insn, RawInsn};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// One basic block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Its first instruction.
    pub start: usize,
    /// Its last instruction (an `ld_imm64` counts as its first slot).
    pub end: usize,
    /// The subprogram (index in start order) it belongs to.
    pub subprog: usize,
}

/// The blocks of `insns` and the edges between them (`(from block, to
/// block, is_jump)`).
pub fn blocks(insns: &[RawInsn]) -> (Vec<Block>, Vec<(usize, usize, bool)>) {
    let n = insns.len();
    let dec: Vec<Option<Insn>> = {
        let mut v: Vec<Option<Insn>> = vec![None; n];
        let mut pc = 0;
        while pc < n {
            let d = insns.get(pc..).and_then(|s| Insn::decode(s, pc).ok());
            let w = if matches!(d, Some(Insn::LdImm64 { .. })) {
                2
            } else {
                1
            };
            if let Some(slot) = v.get_mut(pc) {
                *slot = d;
            }
            pc += w;
        }
        v
    };
    let target = |pc: usize, off: i64| -> Option<usize> {
        let t = pc as i64 + off + 1;
        (t >= 0 && (t as usize) < n).then_some(t as usize)
    };
    let mut subs: BTreeSet<usize> = BTreeSet::from([0]);
    let mut leaders: BTreeSet<usize> = BTreeSet::from([0]);
    for (pc, d) in dec.iter().enumerate() {
        match d {
            Some(Insn::Call(CallTarget::Local(imm))) => {
                if let Some(t) = target(pc, *imm as i64) {
                    subs.insert(t);
                    leaders.insert(t);
                }
            }
            Some(Insn::LdImm64 {
                src: ironbpf_isa::LdImm64Src::Func,
                imm,
                ..
            }) => {
                if let Some(t) = target(pc, *imm as i64) {
                    subs.insert(t);
                    leaders.insert(t);
                }
            }
            Some(Insn::Jmp { off, .. } | Insn::Ja { off } | Insn::MayGoto { off }) => {
                if let Some(t) = target(pc, *off as i64) {
                    leaders.insert(t);
                }
                leaders.insert(pc + 1);
            }
            Some(Insn::Gotol { imm }) => {
                if let Some(t) = target(pc, *imm as i64) {
                    leaders.insert(t);
                }
                leaders.insert(pc + 1);
            }
            Some(Insn::Exit) => {
                leaders.insert(pc + 1);
            }
            _ => {}
        }
    }
    let starts: Vec<usize> = leaders.into_iter().filter(|&l| l < n).collect();
    let subs: Vec<usize> = subs.into_iter().collect();
    let mut out = Vec::new();
    for (i, &s) in starts.iter().enumerate() {
        let next = starts.get(i + 1).copied().unwrap_or(n);
        // The last real instruction before the next leader.
        let mut end = s;
        let mut pc = s;
        while pc < next {
            if matches!(dec.get(pc), Some(Some(_))) {
                end = pc;
            }
            pc += 1;
        }
        let subprog = subs.iter().rposition(|&b| b <= s).unwrap_or(0);
        out.push(Block {
            start: s,
            end,
            subprog,
        });
    }
    let of = |pc: usize| out.iter().position(|b| b.start <= pc && pc <= b.end);
    let mut edges = Vec::new();
    for (bi, b) in out.iter().enumerate() {
        let last = dec.get(b.end).copied().flatten();
        let fall = b.end
            + if matches!(last, Some(Insn::LdImm64 { .. })) {
                2
            } else {
                1
            };
        match last {
            Some(Insn::Exit) => {}
            Some(Insn::Ja { off }) => {
                if let Some(t) = target(b.end, off as i64).and_then(of) {
                    edges.push((bi, t, true));
                }
            }
            Some(Insn::Gotol { imm }) => {
                if let Some(t) = target(b.end, imm as i64).and_then(of) {
                    edges.push((bi, t, true));
                }
            }
            Some(Insn::Jmp { off, .. } | Insn::MayGoto { off }) => {
                if let Some(t) = target(b.end, off as i64).and_then(of) {
                    edges.push((bi, t, true));
                }
                if let Some(t) = of(fall) {
                    edges.push((bi, t, false));
                }
            }
            _ => {
                if let Some(t) = of(fall) {
                    if out.get(t).is_some_and(|o| o.subprog == b.subprog) {
                        edges.push((bi, t, false));
                    }
                }
            }
        }
    }
    (out, edges)
}

fn esc(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\l"),
            c if c.is_control() => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// The DOT text of the program's CFG; with an explanation, the failing
/// path is drawn red and bold and the failing block carries the failing
/// state.
pub fn cfg_dot(
    insns: &[RawInsn],
    lines: &[Option<SourceLine>],
    expl: Option<&Explanation>,
) -> String {
    let (blocks, edges) = blocks(insns);
    let path: &[u32] = expl.map_or(&[], |e| &e.full_path);
    let on_path: BTreeSet<usize> = path.iter().map(|&p| p as usize).collect();
    let of = |pc: usize| blocks.iter().position(|b| b.start <= pc && pc <= b.end);
    let mut path_edges: BTreeSet<(usize, usize)> = BTreeSet::new();
    for w in path.windows(2) {
        let &[from, to] = w else { continue };
        if let (Some(a), Some(b)) = (of(from as usize), of(to as usize)) {
            if a != b || (to as usize) <= (from as usize) {
                path_edges.insert((a, b));
            }
        }
    }
    let fail_pc = expl.and_then(|e| e.at.as_ref().map(|s| s.insn));
    let cause_pc = expl.and_then(|e| e.root_cause.as_ref().map(|c| c.site.insn));
    let mut o = String::new();
    let _ = writeln!(o, "digraph cfg {{");
    let _ = writeln!(
        o,
        "  node [shape=box, fontname=\"monospace\", fontsize=10];"
    );
    let _ = writeln!(o, "  edge [fontname=\"monospace\", fontsize=9];");
    if let Some(e) = expl {
        let _ = writeln!(
            o,
            "  label=\"{}\"; labelloc=t;",
            esc(&format!("{} [{}]: {}", e.code, e.category, e.title))
        );
    }
    let mut by_sub: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, b) in blocks.iter().enumerate() {
        by_sub.entry(b.subprog).or_default().push(i);
    }
    for (sub, bis) in &by_sub {
        // Each subprogram in by_sub has at least one block.
        let Some(start) = bis.first().and_then(|&bi| blocks.get(bi)).map(|b| b.start) else {
            continue;
        };
        let _ = writeln!(o, "  subgraph cluster_{sub} {{");
        let _ = writeln!(o, "    label=\"subprogram {sub} (insn {start})\";");
        for &bi in bis {
            let Some(b) = blocks.get(bi) else { continue };
            let mut label = format!("block {bi}: insn {}-{}\n", b.start, b.end);
            let mut last_line = None;
            let mut pc = b.start;
            while pc <= b.end {
                let d = insns.get(pc..).and_then(|s| Insn::decode(s, pc).ok());
                if let Some(src) = lines.get(pc).cloned().flatten() {
                    if last_line != Some((src.file.clone(), src.line)) {
                        let _ =
                            writeln!(label, "// {}:{}: {}", src.file, src.line, src.text.trim());
                        last_line = Some((src.file.clone(), src.line));
                    }
                }
                let text = match &d {
                    // Decoded, so insns[pc] exists.
                    Some(i) => {
                        ironbpf_isa::format_log_line(pc, i, insns.get(pc).map_or(0, |r| r.code))
                    }
                    None => format!("{pc}: (invalid)"),
                };
                let mark = if Some(pc) == fail_pc {
                    "  <== FAILS"
                } else if Some(pc) == cause_pc {
                    "  <== root cause"
                } else {
                    ""
                };
                let _ = writeln!(label, "{text}{mark}");
                pc += if matches!(d, Some(Insn::LdImm64 { .. })) {
                    2
                } else {
                    1
                };
            }
            let failing = fail_pc.is_some_and(|f| b.start <= f && f <= b.end);
            if failing {
                if let Some(e) = expl {
                    let _ = writeln!(
                        label,
                        "FAILS at insn {}: {}",
                        fail_pc.unwrap_or(0),
                        e.reason
                    );
                    if let Some(st) = &e.state {
                        let _ = writeln!(label, "state: {st}");
                    }
                }
            }
            let style = if failing {
                ", color=red, penwidth=3, style=filled, fillcolor=\"#ffe0e0\""
            } else if cause_pc.is_some_and(|c| b.start <= c && c <= b.end) {
                ", color=orange, penwidth=2, style=filled, fillcolor=\"#fff0d0\""
            } else if (b.start..=b.end).any(|p| on_path.contains(&p)) {
                ", color=red, penwidth=2"
            } else {
                ""
            };
            let _ = writeln!(o, "    b{bi} [label=\"{}\"{style}];", esc(&label));
        }
        let _ = writeln!(o, "  }}");
    }
    for (a, b, jump) in &edges {
        let hot = path_edges.contains(&(*a, *b));
        let mut attrs = Vec::new();
        if *jump {
            attrs.push("label=\"jump\"".to_string());
        }
        if hot {
            attrs.push("color=red, penwidth=3".into());
        }
        let _ = writeln!(o, "  b{a} -> b{b} [{}];", attrs.join(", "));
    }
    // bpf-to-bpf calls, dashed.
    for (bi, b) in blocks.iter().enumerate() {
        let mut pc = b.start;
        while pc <= b.end {
            let d = insns.get(pc..).and_then(|s| Insn::decode(s, pc).ok());
            if let Some(Insn::Call(CallTarget::Local(imm))) = d {
                let t = pc as i64 + imm as i64 + 1;
                if let Some(tb) = (t >= 0).then(|| of(t as usize)).flatten() {
                    let hot = path
                        .windows(2)
                        .any(|w| matches!(*w, [from, to] if from as usize == pc && to as i64 == t));
                    let c = if hot { ", color=red, penwidth=3" } else { "" };
                    let _ = writeln!(o, "  b{bi} -> b{tb} [style=dashed, label=\"call\"{c}];");
                }
            }
            pc += if matches!(d, Some(Insn::LdImm64 { .. })) {
                2
            } else {
                1
            };
        }
    }
    let _ = writeln!(o, "}}");
    o
}
