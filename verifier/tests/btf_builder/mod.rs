//! A small BTF blob writer for the global-function and callback tests:
//! the types a program's functions need (INT, PTR, STRUCT, TYPEDEF,
//! FUNC_PROTO, FUNC, DECL_TAG), encoded as the kernel reads them.

#![allow(dead_code)]

pub mod funcs;

/// `BTF_FUNC_STATIC`.
pub const STATIC: u32 = 0;
/// `BTF_FUNC_GLOBAL`.
pub const GLOBAL: u32 = 1;

/// Types are numbered from 1 in the order they are added.
pub struct BtfBuilder {
    types: Vec<u8>,
    strings: Vec<u8>,
    next: u32,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BtfBuilder {
    pub fn new() -> Self {
        BtfBuilder {
            types: Vec::new(),
            strings: vec![0],
            next: 1,
        }
    }

    fn str(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn words(&mut self, w: &[u32]) -> u32 {
        for x in w {
            self.types.extend_from_slice(&x.to_le_bytes());
        }
        let id = self.next;
        self.next += 1;
        id
    }

    /// `INT name`, `size` bytes.
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let n = self.str(name);
        let enc = if signed { 1 << 24 } else { 0 } | (size * 8);
        self.words(&[n, 1 << 24, size, enc])
    }

    /// `PTR` to `to` (0: `void *`).
    pub fn ptr(&mut self, to: u32) -> u32 {
        self.words(&[0, 2 << 24, to])
    }

    /// `TYPEDEF name` of `to`.
    pub fn typedef(&mut self, name: &str, to: u32) -> u32 {
        let n = self.str(name);
        self.words(&[n, 8 << 24, to])
    }

    /// `CONST` of `to`.
    pub fn konst(&mut self, to: u32) -> u32 {
        self.words(&[0, 10 << 24, to])
    }

    /// `STRUCT name` of `size` bytes with `(name, type, bit offset)` members.
    pub fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let n = self.str(name);
        let mut w = vec![n, (4 << 24) | members.len() as u32, size];
        for (mn, t, off) in members {
            w.push(self.str(mn));
            w.push(*t);
            w.push(*off);
        }
        self.words(&w)
    }

    /// `FUNC_PROTO` returning `ret` with `(name, type)` parameters.
    pub fn func_proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let mut w = vec![0, (13 << 24) | params.len() as u32, ret];
        for (pn, t) in params {
            w.push(self.str(pn));
            w.push(*t);
        }
        self.words(&w)
    }

    /// `FUNC name` of prototype `proto` with `linkage` ([`STATIC`], [`GLOBAL`]).
    pub fn func(&mut self, name: &str, proto: u32, linkage: u32) -> u32 {
        let n = self.str(name);
        self.words(&[n, (12 << 24) | linkage, proto])
    }

    /// `DECL_TAG name` on parameter `component` of FUNC `target`.
    pub fn decl_tag(&mut self, name: &str, target: u32, component: i32) -> u32 {
        let n = self.str(name);
        self.words(&[n, 17 << 24, target, component as u32])
    }

    /// The blob: header, types, strings.
    pub fn build(&self) -> Vec<u8> {
        let mut blob = Vec::new();
        blob.extend_from_slice(&0xeb9fu16.to_le_bytes());
        blob.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ] {
            blob.extend_from_slice(&w.to_le_bytes());
        }
        blob.extend_from_slice(&self.types);
        blob.extend_from_slice(&self.strings);
        blob
    }
}
