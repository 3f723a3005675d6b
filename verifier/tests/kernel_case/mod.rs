//! The harness of the kernel-checked rule tests: maps created alike in the
//! running kernel and for ironbpf, kfunc and BTF names resolved against the
//! kernel's BTF, and the two verdicts compared (same verdict; where both
//! refuse, the same last error line at the same instruction).
//!
//! Each test binary uses its own part of it.
#![allow(dead_code)]

use ironbpf_kernel::{is_trailer_line, last_error_lines, KernelMap, LoadOutcome, MapCreate};
use ironbpf_verifier::vmlinux::Vmlinux;
use ironbpf_verifier::{MapInfo, Rejection, VerifyOptions, VerifyOutcome};

/// `BPF_F_RDONLY_PROG`.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_WRONLY_PROG`.
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
/// `BPF_F_SLEEPABLE`.
pub const BPF_F_SLEEPABLE: u32 = 1 << 4;

/// A map of the case, created in the kernel (filled and frozen when it has
/// contents) and described to ironbpf alike.
pub struct Map {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    /// Key 0's value, written before the map is frozen.
    pub frozen: Option<Vec<u8>>,
}

/// Creates `maps` in the kernel (key 0 written and the map frozen where it
/// has contents) and describes them to ironbpf in `opts` (`maps` and
/// `frozen_values`). The kernel's maps must outlive the program's load.
pub fn create_maps(name: &str, maps: &[Map], opts: &mut VerifyOptions) -> Vec<KernelMap> {
    let kmaps = maps
        .iter()
        .map(|m| {
            let mut mc = MapCreate::new(m.map_type, m.key_size, m.value_size, m.max_entries);
            mc.map_flags = m.map_flags;
            let km = KernelMap::create(&mc).unwrap_or_else(|e| panic!("{name}: map: {e}"));
            if let Some(v) = &m.frozen {
                km.update(&0u32.to_ne_bytes(), v, 0)
                    .unwrap_or_else(|e| panic!("{name}: map update: {e}"));
                km.freeze()
                    .unwrap_or_else(|e| panic!("{name}: freeze: {e}"));
            }
            km
        })
        .collect();
    opts.maps = maps
        .iter()
        .enumerate()
        .map(|(i, m)| MapInfo {
            name: format!("map{i}"),
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            map_flags: m.map_flags,
            frozen_readonly: m.frozen.is_some(),
            record: Default::default(),
        })
        .collect();
    opts.frozen_values = maps.iter().map(|m| m.frozen.clone()).collect();
    kmaps
}

/// The last line of ironbpf's error message, before its explanation
/// trailer: the line the kernel's log ends with.
pub fn last_line(r: &Rejection) -> &str {
    r.message
        .lines()
        .take_while(|l| !is_trailer_line(l))
        .last()
        .unwrap_or("")
}

/// How both must end.
#[derive(Clone, Copy, Debug)]
pub enum Verdict<'a> {
    Accepted,
    /// Refused at this instruction with this last error line.
    RefusedAt(usize, &'a str),
    /// Refused before any instruction is explored (the kernel's log names
    /// no instruction), with this last error line.
    RefusedWhole(&'a str),
}

impl<'a> Verdict<'a> {
    /// `None`: accepted; `Some((insn, line))`: refused there.
    pub fn at(refused: Option<(usize, &'a str)>) -> Self {
        match refused {
            None => Verdict::Accepted,
            Some((insn, line)) => Verdict::RefusedAt(insn, line),
        }
    }
}

/// Asserts that the kernel's load and ironbpf's verification both end as
/// `verdict` says.
pub fn assert_verdicts(name: &str, kernel: &LoadOutcome, ours: &VerifyOutcome, verdict: Verdict) {
    assert_kernel(name, kernel, verdict);
    assert_ours(name, ours, verdict);
}

/// Asserts that the kernel's load ends as `verdict` says.
pub fn assert_kernel(name: &str, kernel: &LoadOutcome, verdict: Verdict) {
    let (insn, line) = match verdict {
        Verdict::Accepted => {
            assert!(
                kernel.accepted(),
                "{name}: the kernel refused it:\n{}",
                kernel.log
            );
            return;
        }
        Verdict::RefusedAt(insn, line) => (Some(insn), line),
        Verdict::RefusedWhole(line) => (None, line),
    };
    assert!(!kernel.accepted(), "{name}: the kernel accepted it");
    assert_eq!(
        last_error_lines(&kernel.log, 1),
        [line],
        "{name}: the kernel's log:\n{}",
        kernel.log
    );
    assert_eq!(
        kernel.error_insn, insn,
        "{name}: the kernel's log:\n{}",
        kernel.log
    );
}

/// Asserts that ironbpf's verification ends as `verdict` says.
pub fn assert_ours(name: &str, ours: &VerifyOutcome, verdict: Verdict) {
    let (insn, line) = match verdict {
        Verdict::Accepted => {
            if let Err(r) = &ours.result {
                panic!("{name}: ironbpf refused it: {r}\n{}", ours.log);
            }
            return;
        }
        Verdict::RefusedAt(insn, line) => (Some(insn), line),
        Verdict::RefusedWhole(line) => (None, line),
    };
    let rej = ours
        .result
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("{name}: ironbpf accepted it:\n{}", ours.log));
    assert_eq!(last_line(rej), line, "{name}: ironbpf's log:\n{}", ours.log);
    if insn.is_some() {
        assert_eq!(rej.insn, insn, "{name}: ironbpf's log:\n{}", ours.log);
    }
}

/// The program text with the running kernel's BTF ids and offsets put in:
/// `call @name` becomes `call kernel-function#ID` (the kfunc `name`),
/// `{type:S}` the id of struct S, and `{S.f}` or `{off:S.f}` the byte offset
/// of field f of struct S.
pub fn resolve(v: &Vmlinux, text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut l = line.trim().to_string();
        if let Some(name) = l.strip_prefix("call @") {
            let id = v
                .find(name.trim(), ironbpf_btf::kind::FUNC)
                .unwrap_or_else(|| panic!("{name} in vmlinux BTF"));
            l = format!("call kernel-function#{id}");
        }
        while let Some(a) = l.find('{') {
            let b = l[a..].find('}').expect("closing brace") + a;
            let inner = &l[a + 1..b];
            let value = match inner.strip_prefix("type:") {
                Some(st) => v.struct_id(st).expect("struct in vmlinux BTF"),
                None => {
                    let field = inner.strip_prefix("off:").unwrap_or(inner);
                    let (st, f) = field.split_once('.').expect("struct.field");
                    let sid = v.struct_id(st).expect("struct in vmlinux BTF");
                    let (_, bits, _) = v.btf.member_by_name(sid, f).expect("field");
                    bits / 8
                }
            };
            l = format!("{}{value}{}", &l[..a], &l[b + 1..]);
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// A level-2 log with map addresses (the kernel's, ironbpf's stand-ins)
/// and the timing line taken out, for comparing the two line by line.
pub fn normalized_log(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| !l.starts_with("verification time"))
        .map(|l| {
            let mut l = l.to_string();
            while let Some(i) = l.find("0xffff") {
                let end = l[i..].find([' ', ')', ',']).map_or(l.len(), |e| i + e);
                l.replace_range(i..end, "MAP");
            }
            l.replace("map=m,", "").replace("map[idx:0]", "MAP")
        })
        .collect()
}

/// The kernel's log and ironbpf's are the same, line for line, once
/// normalised ([`normalized_log`]); the first line that differs is named.
pub fn assert_same_log(name: &str, kernel: &str, ours: &str) {
    let (kl, ol) = (normalized_log(kernel), normalized_log(ours));
    for (i, (a, b)) in kl.iter().zip(&ol).enumerate() {
        assert_eq!(
            a, b,
            "{name}: line {i} differs\n--- kernel\n{kernel}\n--- ironbpf\n{ours}"
        );
    }
    assert_eq!(
        kl.len(),
        ol.len(),
        "{name}: the logs differ in length\n--- kernel\n{kernel}\n--- ironbpf\n{ours}"
    );
}
