//! The functions of a test program as its BTF describes them (parameter
//! types, linkage, `arg:` decl tags), written into a blob with
//! [`BtfBuilder`], and the log lines both kernel comparisons leave out.

use super::BtfBuilder;
#[allow(unused_imports)]
pub use super::{GLOBAL, STATIC};
use ironbpf_kernel::KernelBtf;
use ironbpf_verifier::FuncInfoRec;

/// A parameter or return type of a function's prototype.
#[derive(Clone, Copy)]
pub enum P {
    /// `struct __sk_buff *`.
    Ctx,
    /// `int`.
    Int,
    /// `int *`.
    PtrInt,
    /// `void *`.
    PtrVoid,
    /// `struct big *` (24 bytes).
    PtrBig,
    /// `struct __sk_buff` by value (not supported by the kernel).
    Struct,
    /// `void`, as a return type.
    Void,
}

pub struct Func {
    pub name: &'static str,
    pub linkage: u32,
    pub ret: P,
    pub params: &'static [P],
    /// `arg:` decl tags: (parameter, tag without the `arg:`).
    pub tags: &'static [(usize, &'static str)],
}

/// `f` with decl tags on its parameters.
pub const fn tagged(f: Func, tags: &'static [(usize, &'static str)]) -> Func {
    Func { tags, ..f }
}

pub const fn global(name: &'static str, params: &'static [P]) -> Func {
    Func {
        name,
        linkage: GLOBAL,
        ret: P::Int,
        params,
        tags: &[],
    }
}

pub const fn stat(name: &'static str, params: &'static [P]) -> Func {
    Func {
        name,
        linkage: STATIC,
        ret: P::Int,
        params,
        tags: &[],
    }
}

/// The subprogram starts: 0 and every bpf-to-bpf call's target.
pub fn subprog_starts(slots: &[ironbpf_isa::RawInsn]) -> Vec<usize> {
    let mut s = vec![0usize];
    for (pc, i) in slots.iter().enumerate() {
        if i.code == 0x85 && i.src == 1 {
            s.push((pc as i64 + i.imm as i64 + 1) as usize);
        }
    }
    s.sort_unstable();
    s.dedup();
    s
}

/// The BTF blob and one FUNC type id per function.
pub fn build_btf(funcs: &[Func]) -> (Vec<u8>, Vec<u32>) {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let u32_ = b.int("unsigned int", 4, false);
    let skb = b.strukt("__sk_buff", 4, &[("len", u32_, 0)]);
    let big = b.strukt("big", 24, &[("a", int, 0)]);
    let ctx = b.ptr(skb);
    let pint = b.ptr(int);
    let pvoid = b.ptr(0);
    let pbig = b.ptr(big);
    let ty = |p: P| match p {
        P::Ctx => ctx,
        P::Int => int,
        P::PtrInt => pint,
        P::PtrVoid => pvoid,
        P::PtrBig => pbig,
        P::Struct => skb,
        P::Void => 0,
    };
    let names = ["a", "b", "c", "d", "e", "f"];
    let mut ids = Vec::new();
    for f in funcs {
        let params: Vec<(&str, u32)> = f
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| (names[i], ty(*p)))
            .collect();
        let proto = b.func_proto(ty(f.ret), &params);
        let id = b.func(f.name, proto, f.linkage);
        ids.push(id);
        for (arg, tag) in f.tags {
            b.decl_tag(&format!("arg:{tag}"), id, *arg as i32);
        }
    }
    (b.build(), ids)
}

/// A test program's functions as both sides are given them: the BTF blob
/// (ironbpf parses it), the blob loaded into the kernel (none without
/// functions), and func_info as records and as the kernel's bytes.
pub struct Described {
    pub blob: Vec<u8>,
    pub kbtf: Option<KernelBtf>,
    pub recs: Vec<FuncInfoRec>,
    pub func_info: Vec<u8>,
}

/// [`Described`] for the functions `funcs` starting at `starts`, in order.
pub fn describe(case: &str, funcs: &[Func], starts: &[usize]) -> Described {
    let (blob, ids) = build_btf(funcs);
    let kbtf = if funcs.is_empty() {
        None
    } else {
        Some(
            KernelBtf::load(&blob).unwrap_or_else(|(e, l)| panic!("{case}: BTF refused: {e}: {l}")),
        )
    };
    let recs: Vec<FuncInfoRec> = starts
        .iter()
        .zip(&ids)
        .map(|(&insn, &type_id)| FuncInfoRec { insn, type_id })
        .collect();
    let mut func_info = Vec::new();
    for r in &recs {
        func_info.extend_from_slice(&(r.insn as u32).to_ne_bytes());
        func_info.extend_from_slice(&r.type_id.to_ne_bytes());
    }
    Described {
        blob,
        kbtf,
        recs,
        func_info,
    }
}
