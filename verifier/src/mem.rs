//! Memory access (`check_mem_access`) per pointer type: the stack with its
//! spills and fills, the context through the program type's descriptor,
//! map keys and values, packets, `PTR_TO_MEM`; `ld_imm64` and the legacy
//! packet loads; the memory a helper reads or writes.

use crate::alu;
use crate::cfg::libc_errno::*;
use crate::check::{Env, VResult};
use crate::error::RejectionKind;
use crate::ptr::BPF_MAX_VAR_OFF;
use crate::scalar::Scalar;
use crate::state::*;
use ironbpf_isa::{AtomicOp, Insn, LdImm64Src};
use ironbpf_progtype::desc::{AccessKind, CtxAccess, CtxYield};

/// `BPF_F_RDONLY_PROG`.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_WRONLY_PROG`.
const BPF_F_WRONLY_PROG: u32 = 1 << 8;

/// `atomic_ptr_type_ok`: atomic instructions do not reach the context,
/// packets, flow keys or sockets.
fn atomic_ptr_type_ok(t: RegType) -> bool {
    !matches!(
        t,
        RegType::Ctx
            | RegType::Packet
            | RegType::PacketMeta
            | RegType::FlowKeys
            | RegType::SockCommon
            | RegType::Socket
            | RegType::TcpSock
    )
}

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Where the value of a write comes from, or a read goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A register.
    Reg(usize),
    /// A `BPF_ST` immediate.
    Imm(i32),
    /// Nowhere (atomics' probes, helpers).
    None,
}

impl Env<'_> {
    /// `BPF_LDX`, `BPF_ST`, `BPF_STX` and atomics.
    pub(crate) fn check_mem_insn(&mut self, insn: &Insn) -> VResult {
        let pc = self.pc;
        match *insn {
            Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            } => {
                let (d, s) = (dst.index(), src.index());
                self.check_src(s)?;
                self.check_dst(d)?;
                self.check_mem_access(
                    s,
                    off as i64,
                    size.bytes() as u32,
                    Access::Read,
                    Value::Reg(d),
                    sign_extend,
                    AccessKind::Load,
                )?;
            }
            Insn::Store {
                size,
                dst,
                off,
                imm,
            } => {
                let d = dst.index();
                self.check_src(d)?;
                // Linux 6.18 checks a BPF_ST into the context as any other
                // context write (the descriptor says which fields take one).
                self.check_mem_access(
                    d,
                    off as i64,
                    size.bytes() as u32,
                    Access::Write,
                    Value::Imm(imm),
                    false,
                    AccessKind::StoreImm,
                )?;
            }
            Insn::StoreReg {
                size,
                dst,
                src,
                off,
            } => {
                let (d, s) = (dst.index(), src.index());
                self.check_src(s)?;
                self.check_src(d)?;
                self.check_mem_access(
                    d,
                    off as i64,
                    size.bytes() as u32,
                    Access::Write,
                    Value::Reg(s),
                    false,
                    AccessKind::StoreReg,
                )?;
            }
            Insn::Atomic {
                op,
                size,
                dst,
                src,
                off,
            } => {
                let (d, s) = (dst.index(), src.index());
                let sz = size.bytes() as u32;
                match op {
                    AtomicOp::LoadAcquire => {
                        // `dst = load_acquire(src + off)`: the decoder keeps
                        // the address in `src`.
                        self.check_src(s)?;
                        self.check_dst(d)?;
                        // check_atomic_load: atomic_ptr_type_ok before the
                        // load's own checks (6.18).
                        if !atomic_ptr_type_ok(self.cur.reg(s).ty) {
                            return Err(self.reject(
                                RejectionKind::InvalidMemAccess {
                                    reg: s as u8,
                                    reg_type: self.type_str(s),
                                },
                                format!(
                                    "BPF_ATOMIC loads from R{s} {} is not allowed",
                                    self.type_str(s)
                                ),
                            ));
                        }
                        self.check_mem_access(
                            s,
                            off as i64,
                            sz,
                            Access::Read,
                            Value::Reg(d),
                            false,
                            AccessKind::Load,
                        )?;
                    }
                    AtomicOp::StoreRelease => {
                        self.check_src(s)?;
                        self.check_src(d)?;
                        self.check_mem_access(
                            d,
                            off as i64,
                            sz,
                            Access::Write,
                            Value::Reg(s),
                            false,
                            AccessKind::StoreReg,
                        )?;
                        // check_atomic_store: atomic_ptr_type_ok after the
                        // store's own checks.
                        self.check_atomic_ptr_type(d)?;
                    }
                    _ => self.check_atomic(op, sz, d, s, off as i64)?,
                }
            }
            _ => {}
        }
        if let Some(safe) = self.safe_access.get_mut(pc) {
            *safe = true;
        }
        Ok(())
    }

    /// `atomic_ptr_type_ok`'s refusal: an atomic operation into memory the
    /// kernel does not allow it on (ctx, packet, flow keys, sockets...).
    fn check_atomic_ptr_type(&self, d: usize) -> VResult {
        if atomic_ptr_type_ok(self.cur.reg(d).ty) {
            return Ok(());
        }
        Err(self.reject(
            RejectionKind::InvalidMemAccess {
                reg: d as u8,
                reg_type: self.type_str(d),
            },
            format!(
                "BPF_ATOMIC stores into R{d} {} is not allowed",
                self.type_str(d)
            ),
        ))
    }

    /// `check_atomic` for the read-modify-write operations.
    fn check_atomic(&mut self, op: AtomicOp, size: u32, d: usize, s: usize, off: i64) -> VResult {
        if size != 4 && size != 8 {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::ReservedField {
                    pc: self.pc,
                    what: "BPF_ATOMIC",
                },
                "invalid atomic operand size".into(),
            ));
        }
        self.check_src(s)?;
        self.check_src(d)?;
        if op == AtomicOp::CmpXchg {
            self.check_src(0)?;
            if self.is_pointer_value(0) {
                return Err(self.reject(
                    RejectionKind::PointerLeak {
                        reg: 0,
                        into: "memory",
                    },
                    "R0 leaks addr into mem".into(),
                ));
            }
        }
        if self.is_pointer_value(s) {
            return Err(self.reject(
                RejectionKind::PointerLeak {
                    reg: s as u8,
                    into: "memory",
                },
                format!("R{s} leaks addr into mem"),
            ));
        }
        self.check_atomic_ptr_type(d)?;
        let load = if op.fetches() {
            if op == AtomicOp::CmpXchg {
                Value::Reg(0)
            } else {
                Value::Reg(s)
            }
        } else {
            Value::None
        };
        self.check_mem_access(d, off, size, Access::Read, load, false, AccessKind::Atomic)?;
        self.check_mem_access(
            d,
            off,
            size,
            Access::Write,
            Value::None,
            false,
            AccessKind::Atomic,
        )
    }

    /// `check_ptr_alignment` when strict alignment is asked for: by the
    /// loader (`BPF_F_STRICT_ALIGNMENT`) or by the access itself
    /// (`strict_alignment_once`, which every atomic instruction passes).
    fn check_alignment(&self, r: usize, off: i64, size: u32, strict_once: bool) -> VResult {
        let reg = self.cur.reg(r);
        // The stack is always checked strictly: spill tracking needs it.
        let strict = self.opts.strict_alignment || strict_once || reg.ty == RegType::Stack;
        if !strict || size == 1 {
            return Ok(());
        }
        let (what, ip_align) = match reg.ty {
            RegType::Packet | RegType::PacketMeta => ("packet", 2i64),
            RegType::MapValue => ("value ", 0),
            RegType::MapKey => ("key ", 0),
            RegType::Ctx => ("context ", 0),
            RegType::Stack => ("stack ", 0),
            RegType::FlowKeys => ("flow keys ", 0),
            _ => ("", 0),
        };
        let var = reg.val.var_off;
        let fixed = ip_align + reg.off as i64 + off;
        let t = var.add(crate::tnum::Tnum::constant(fixed as u64));
        if !t.is_aligned(size as u64) {
            // A constant variable offset prints as its value.
            let var = if var.is_const() {
                format!("{}", var.value as i64)
            } else {
                var.to_string()
            };
            let msg = if reg.ty.is_pkt() {
                format!(
                    "misaligned packet access off {}+{}+{}+{} size {}",
                    ip_align, var, reg.off, off, size
                )
            } else {
                format!(
                    "misaligned {what}access off {}+{}+{} size {}",
                    var, reg.off, off, size
                )
            };
            return Err(self.reject(
                RejectionKind::Misaligned {
                    reg: r as u8,
                    off: fixed,
                    size,
                },
                msg,
            ));
        }
        Ok(())
    }

    /// `check_mem_access`: an access of `size` bytes at `reg + off`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_mem_access(
        &mut self,
        r: usize,
        off: i64,
        size: u32,
        t: Access,
        value: Value,
        sign_extend: bool,
        kind: AccessKind,
    ) -> VResult {
        // check_atomic_rmw, check_atomic_load and check_atomic_store check
        // their accesses as if alignment were strict: an atomic instruction
        // is one of BPF_STX | BPF_ATOMIC.
        let atomic = self
            .insns
            .get(self.pc)
            .is_some_and(|i| i.code & 0xe7 == 0xc3);
        self.check_alignment(r, off, size, atomic)?;
        let reg = *self.cur.reg(r);
        let off = off + reg.off as i64;
        let value_reg = match value {
            Value::Reg(v) => Some(v),
            _ => None,
        };
        let leaks = |me: &Self, into: &'static str, text: &str| -> VResult {
            if t == Access::Write {
                if let Some(v) = value_reg {
                    if me.is_pointer_value(v) {
                        return Err(me.reject(
                            RejectionKind::PointerLeak { reg: v as u8, into },
                            format!("R{v} leaks addr into {text}"),
                        ));
                    }
                }
            }
            Ok(())
        };
        let read_dst = if t == Access::Read { value_reg } else { None };
        if reg.maybe_null && reg.is_pointer() {
            return Err(self.invalid_mem(r));
        }
        match reg.ty {
            RegType::MapKey => {
                if t == Access::Write {
                    return Err(self.reject(
                        RejectionKind::InvalidMemAccess {
                            reg: r as u8,
                            reg_type: reg.type_str(),
                        },
                        format!("write to change key R{r} not allowed"),
                    ));
                }
                let ks = self.map_of(&reg).map(|m| m.key_size).unwrap_or(0);
                self.check_mem_region(r, off, size as i64, ks as i64, false)?;
                if let Some(d) = read_dst {
                    self.set_loaded(d, size, sign_extend);
                }
            }
            RegType::MapValue => {
                leaks(self, "map", "map")?;
                self.check_map_access_type(r, off, size as i64, t)?;
                let vs = self.map_of(&reg).map(|m| m.value_size).unwrap_or(0);
                self.check_mem_region(r, off, size as i64, vs as i64, false)?;
                // bpf_spin_lock, bpf_timer, kptrs... (map_fields.rs).
                if let Some(f) = self.check_map_fields(r, off, size as i64, true)? {
                    let (src, imm) = match value {
                        Value::Reg(v) if t == Access::Write => (Some(v), None),
                        Value::Imm(i) => (None, Some(i)),
                        _ => (None, None),
                    };
                    self.map_kptr_access(&f, read_dst, src, imm)?;
                } else if let Some(d) = read_dst {
                    match self.rdonly_direct_read(&reg, off, size, sign_extend)? {
                        Some(v) => *self.cur.reg_mut(d) = RegState::constant(v),
                        None => self.set_loaded(d, size, sign_extend),
                    }
                }
            }
            RegType::Mem => {
                if t == Access::Write && reg.rdonly {
                    return Err(self.reject(
                        RejectionKind::InvalidMemAccess {
                            reg: r as u8,
                            reg_type: reg.type_str(),
                        },
                        format!("R{r} cannot write into {}", reg.type_str()),
                    ));
                }
                leaks(self, "memory", "mem")?;
                // Untrusted read-only memory (a `char *` field of a BTF
                // struct) is read through probe loads: no bounds.
                let rdonly_untrusted = reg.rdonly && reg.btf_flags & btf_flag::UNTRUSTED != 0;
                if rdonly_untrusted {
                    self.mark_probe_access();
                } else {
                    self.check_mem_region(r, off, size as i64, reg.mem_size as i64, false)?;
                }
                if let Some(d) = read_dst {
                    self.set_loaded(d, size, sign_extend);
                }
            }
            RegType::Ctx => {
                leaks(self, "the context", "ctx")?;
                self.check_unmodified_ptr(r, "ctx", false)?;
                if self.ctx_is_btf_typed() {
                    self.check_btf_ctx_access(
                        off,
                        size,
                        t == Access::Write,
                        read_dst,
                        sign_extend,
                    )?;
                } else {
                    self.check_ctx_access(off, size, kind, read_dst, sign_extend)?;
                }
            }
            RegType::BtfId => {
                self.mark_probe_access();
                self.check_ptr_to_btf_id_access(
                    r,
                    off,
                    size,
                    t == Access::Write,
                    read_dst,
                    sign_extend,
                )?;
            }
            RegType::ConstPtrToMap => {
                self.check_ptr_to_map_access(r, off, size, t, read_dst, sign_extend)?;
            }
            RegType::TpBuffer => {
                // check_tp_buffer_access: a writable tracepoint's buffer,
                // at constant non-negative offsets (its size is checked
                // when the program is attached).
                if off < 0 {
                    return Err(self.reject(
                        RejectionKind::InvalidMemAccess {
                            reg: r as u8,
                            reg_type: reg.type_str(),
                        },
                        format!("R{r} invalid tracepoint buffer access: off={off}, size={size}"),
                    ));
                }
                if !reg.val.var_off.is_const() || reg.val.var_off.value != 0 {
                    return Err(self.reject(
                        RejectionKind::InvalidMemAccess {
                            reg: r as u8,
                            reg_type: reg.type_str(),
                        },
                        format!(
                            "R{r} invalid variable buffer offset: off={off}, var_off={}",
                            reg.val.var_off
                        ),
                    ));
                }
                if let Some(d) = read_dst {
                    self.set_loaded(d, size, sign_extend);
                }
            }
            RegType::Stack => {
                self.check_stack_bounds(r, off, size as i64, t, "")?;
                if t == Access::Read {
                    self.check_stack_read(r, off, size, read_dst, sign_extend)?;
                } else {
                    self.check_stack_write(r, off, size, value)?;
                }
            }
            RegType::Packet | RegType::PacketMeta => {
                if t == Access::Write && !self.may_write_packet() {
                    return Err(self.reject(
                        RejectionKind::InvalidMemAccess {
                            reg: r as u8,
                            reg_type: reg.type_str(),
                        },
                        "cannot write into packet".into(),
                    ));
                }
                leaks(self, "the packet", "packet")?;
                self.check_packet_access(r, off, size as i64, false)?;
                if let Some(d) = read_dst {
                    self.set_loaded(d, size, sign_extend);
                }
            }
            RegType::FlowKeys => {
                leaks(self, "flow keys", "flow keys")?;
                // sizeof(struct bpf_flow_keys) is 56 on 6.18.
                if off < 0 || off + size as i64 > 56 {
                    return Err(self.reject(
                        RejectionKind::OutOfBounds {
                            reg: r as u8,
                            region: "flow keys",
                            off,
                            size: size as i64,
                            limit: 56,
                        },
                        format!("invalid access to flow keys off={off} size={size}"),
                    ));
                }
                if let Some(d) = read_dst {
                    self.set_loaded(d, size, sign_extend);
                }
            }
            RegType::SockCommon | RegType::Socket | RegType::TcpSock => {
                if t == Access::Write {
                    return Err(self.reject(
                        RejectionKind::InvalidMemAccess {
                            reg: r as u8,
                            reg_type: reg.type_str(),
                        },
                        format!("R{r} cannot write into {}", reg.type_str()),
                    ));
                }
                // check_sock_access
                if reg.val.smin < 0 {
                    return Err(self.reject(
                        RejectionKind::NegativeMin { reg: r as u8 },
                        format!("R{r} min value is negative, either use unsigned index or do a if (index >=0) check."),
                    ));
                }
                if !crate::sock_access::read_ok(reg.ty, off, size as i64) {
                    return Err(self.reject(
                        RejectionKind::InvalidMemAccess {
                            reg: r as u8,
                            reg_type: reg.type_str(),
                        },
                        format!(
                            "R{r} invalid {} access off={off} size={size}",
                            reg.type_str()
                        ),
                    ));
                }
                if let Some(d) = read_dst {
                    self.set_loaded(d, size, sign_extend);
                }
            }
            _ => return Err(self.invalid_mem(r)),
        }
        Ok(())
    }

    /// `__check_ptr_off_reg`: R`r`, a `t` pointer, carries no variable
    /// offset, nor a fixed one unless `fixed_off_ok`.
    pub(crate) fn check_unmodified_ptr(&self, r: usize, t: &str, fixed_off_ok: bool) -> VResult {
        let reg = self.cur.reg(r);
        if !fixed_off_ok && reg.off != 0 {
            return Err(self.reject(
                RejectionKind::ModifiedCtx {
                    reg: r as u8,
                    off: reg.off as i64,
                },
                format!(
                    "dereference of modified {t} ptr R{r} off={} disallowed",
                    reg.off
                ),
            ));
        }
        if !reg.val.var_off.is_const() || reg.val.var_off.value != 0 {
            return Err(self.reject(
                RejectionKind::ModifiedCtx {
                    reg: r as u8,
                    off: reg.off as i64,
                },
                format!("variable {t} access var_off={} disallowed", reg.val.var_off),
            ));
        }
        Ok(())
    }

    fn invalid_mem(&self, r: usize) -> Rejection {
        let ts = self.type_str(r);
        self.reject(
            RejectionKind::InvalidMemAccess {
                reg: r as u8,
                reg_type: ts.clone(),
            },
            format!("R{r} invalid mem access '{ts}'"),
        )
    }

    fn map_of(&self, reg: &RegState) -> Option<&crate::MapInfo> {
        self.maps.get(reg.map as usize)
    }

    /// `check_map_access_type`: a program may not write into a map value
    /// of a map read-only to programs (`BPF_F_RDONLY_PROG`, or frozen as
    /// `.rodata` is) nor read one write-only to programs
    /// (`BPF_F_WRONLY_PROG`), by a load or store (`off` counts the
    /// instruction's offset and the pointer's fixed one) or through a
    /// helper's memory argument (`off` is the pointer's fixed offset).
    pub(crate) fn check_map_access_type(
        &self,
        r: usize,
        off: i64,
        size: i64,
        t: Access,
    ) -> VResult {
        let reg = self.cur.reg(r);
        let Some(m) = self.map_of(reg) else {
            return Ok(());
        };
        let vs = m.value_size;
        let rdonly_prog = m.map_flags & BPF_F_RDONLY_PROG != 0 || m.frozen_readonly;
        let wronly_prog = m.map_flags & BPF_F_WRONLY_PROG != 0;
        let what = match t {
            Access::Write if rdonly_prog => "write into",
            Access::Read if wronly_prog => "read from",
            _ => return Ok(()),
        };
        Err(self.reject(
            RejectionKind::InvalidMemAccess {
                reg: r as u8,
                reg_type: reg.type_str(),
            },
            format!("{what} map forbidden, value_size={vs} off={off} size={size}"),
        ))
    }

    /// `bpf_map_direct_read` for a load of `size` bytes at `reg + off` from
    /// a map that `bpf_map_is_rdonly` (`BPF_F_RDONLY_PROG` and frozen) and
    /// that has `map_direct_value_addr` (a plain array): the value stored
    /// there when the offset is constant and the contents are known
    /// ([`crate::VerifyOptions::frozen_values`]); `None` leaves the load an
    /// unknown scalar. The kernel's `array_map_direct_value_addr` only
    /// serves an array of one entry: with more, the load fails with
    /// `-ENOTSUPP` and no message.
    fn rdonly_direct_read(
        &self,
        reg: &RegState,
        off: i64,
        size: u32,
        sign_extend: bool,
    ) -> Result<Option<u64>, Rejection> {
        const BPF_MAP_TYPE_ARRAY: u32 = 2;
        let Some(m) = self.opts.maps.get(reg.map as usize) else {
            return Ok(None);
        };
        if !reg.val.var_off.is_const()
            || !m.frozen_readonly
            || m.map_flags & BPF_F_RDONLY_PROG == 0
            || m.map_type != BPF_MAP_TYPE_ARRAY
        {
            return Ok(None);
        }
        let Some(Some(bytes)) = self.opts.frozen_values.get(reg.map as usize) else {
            return Ok(None);
        };
        if m.max_entries != 1 {
            return Err(self.reject_errno(ENOTSUPP, RejectionKind::Other, String::new()));
        }
        let at = (off as u64).wrapping_add(reg.val.var_off.value) as usize;
        let Some(b) = at
            .checked_add(size as usize)
            .and_then(|end| bytes.get(at..end))
        else {
            return Ok(None);
        };
        let mut le = [0u8; 8];
        let Some(dst) = le.get_mut(..b.len()) else {
            return Ok(None);
        };
        dst.copy_from_slice(b);
        let v = u64::from_le_bytes(le);
        Ok(Some(match (size, sign_extend) {
            (1, true) => v as u8 as i8 as i64 as u64,
            (2, true) => v as u16 as i16 as i64 as u64,
            (4, true) => v as u32 as i32 as i64 as u64,
            _ => v,
        }))
    }

    /// This instruction reads through a pointer the kernel reads with probe
    /// loads: engines keep their checks on it.
    fn mark_probe_access(&mut self) {
        if let Some(p) = self.probe_access.get_mut(self.pc) {
            *p = true;
        }
    }

    /// `check_ptr_to_map_access`: a read of the kernel's struct behind a
    /// map pointer (`struct bpf_array`, `struct bpf_htab`...), walked as a
    /// `PTR_TO_BTF_ID` of that type.
    fn check_ptr_to_map_access(
        &mut self,
        r: usize,
        off: i64,
        size: u32,
        t: Access,
        read_dst: Option<usize>,
        sign_extend: bool,
    ) -> VResult {
        let reg = *self.cur.reg(r);
        let map_type = self.maps.get(reg.map as usize).map_or(0, |m| m.map_type);
        let vm = match crate::vmlinux::vmlinux() {
            Ok(v) => v,
            Err(_) => {
                return Err(self.reject_errno(
                    ENOTSUPP,
                    RejectionKind::Other,
                    "map_ptr access not supported without CONFIG_DEBUG_INFO_BTF".into(),
                ))
            }
        };
        let found = map_btf_struct(map_type).and_then(|n| Some((n, vm.struct_id(n)?)));
        let Some((tname, btf_id)) = found else {
            return Err(self.reject_errno(
                ENOTSUPP,
                RejectionKind::Other,
                format!("map_ptr access not supported for map type {map_type}"),
            ));
        };
        let bad = |me: &Self, errno: i32, msg: String| {
            me.reject_errno(
                errno,
                RejectionKind::InvalidMemAccess {
                    reg: r as u8,
                    reg_type: reg.type_str(),
                },
                msg,
            )
        };
        if !self.opts.privileged {
            return Err(bad(
                self,
                EPERM,
                format!("'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN"),
            ));
        }
        if off < 0 {
            return Err(bad(
                self,
                EACCES,
                format!("R{r} is {tname} invalid negative access: off={off}"),
            ));
        }
        if t != Access::Read {
            return Err(bad(
                self,
                EACCES,
                format!("only read from {tname} is supported"),
            ));
        }
        // The kernel walks a fresh PTR_TO_BTF_ID of the struct: the register
        // stands in for it during the walk.
        *self.cur.reg_mut(r) = RegState {
            btf_id,
            ..RegState::pointer(RegType::BtfId)
        };
        let res = self.check_ptr_to_btf_id_access(r, off, size, false, read_dst, sign_extend);
        if read_dst != Some(r) || res.is_err() {
            *self.cur.reg_mut(r) = reg;
        }
        res
    }

    /// `assign_scalar_id_before_mov` for the scalar spilled in slot `spi`
    /// of frame `fi`.
    fn slot_scalar_id_before_mov(&mut self, fi: usize, spi: usize) {
        let Some(sp) = self.cur.frames.get(fi).and_then(|f| f.stack.get(spi)) else {
            return;
        };
        let mut r = sp.spilled;
        if r.id & BPF_ADD_CONST != 0 {
            r.id = 0;
            r.off = 0;
        }
        if r.id == 0 && !r.val.var_off.is_const() {
            r.id = self.new_id();
        }
        if let Some(sp) = self
            .cur
            .frames
            .get_mut(fi)
            .and_then(|f| f.stack.get_mut(spi))
        {
            sp.spilled = r;
        }
    }

    /// The destination of a load of `size` bytes becomes an unknown scalar
    /// of that width.
    fn set_loaded(&mut self, d: usize, size: u32, sign_extend: bool) {
        *self.cur.reg_mut(d) = RegState::scalar(alu::scalar_load(size as u8, sign_extend));
    }

    /// `may_access_direct_pkt_data` for writes.
    pub(crate) fn may_write_packet(&self) -> bool {
        matches!(
            self.opts.prog_type.name(),
            "sched_cls" | "sched_act" | "xdp" | "lwt_xmit" | "sk_skb" | "sk_msg" | "cgroup_sockopt"
        )
    }

    /// `__check_mem_access`'s message for an access outside `[0, mem_size)`.
    fn mem_oob(&self, r: usize, off: i64, size: i64, mem_size: i64) -> Rejection {
        let reg = self.cur.reg(r);
        let (region, msg) = match reg.ty {
            RegType::MapKey => (
                "map key",
                format!("invalid access to map key, key_size={mem_size} off={off} size={size}"),
            ),
            RegType::MapValue => (
                "map value",
                format!("invalid access to map value, value_size={mem_size} off={off} size={size}"),
            ),
            RegType::Packet | RegType::PacketMeta | RegType::PacketEnd => (
                "packet",
                format!(
                    "invalid access to packet, off={off} size={size}, R{r}(id={},off={off},r={mem_size})",
                    reg.id
                ),
            ),
            _ => (
                "memory",
                format!("invalid access to memory, mem_size={mem_size} off={off} size={size}"),
            ),
        };
        self.reject(
            RejectionKind::OutOfBounds {
                reg: r as u8,
                region,
                off,
                size,
                limit: mem_size,
            },
            msg,
        )
    }

    fn mem_ok(off: i64, size: i64, mem_size: i64, zero_ok: bool) -> bool {
        let size_ok = size > 0 || (size == 0 && zero_ok);
        off >= 0 && size_ok && off + size <= mem_size
    }

    /// `check_mem_region_access`: both ends of a variable offset in bounds.
    pub(crate) fn check_mem_region(
        &self,
        r: usize,
        off: i64,
        size: i64,
        mem_size: i64,
        zero_ok: bool,
    ) -> VResult {
        let reg = self.cur.reg(r);
        let smin = reg.val.smin;
        if smin < 0
            && (smin == i64::MIN
                || off.checked_add(smin).is_none_or(|v| v != v as i32 as i64)
                || smin + off < 0)
        {
            return Err(self.reject(
                RejectionKind::NegativeMin { reg: r as u8 },
                format!("R{r} min value is negative, either use unsigned index or do a if (index >=0) check."),
            ));
        }
        if !Self::mem_ok(smin + off, size, mem_size, zero_ok) {
            let mut e = self.mem_oob(r, smin + off, size, mem_size);
            e.message.push_str(&format!(
                "\nR{r} min value is outside of the allowed memory range"
            ));
            return Err(e);
        }
        if reg.val.umax >= BPF_MAX_VAR_OFF as u64 {
            return Err(self.reject(
                RejectionKind::Unbounded { reg: r as u8 },
                format!("R{r} unbounded memory access, make sure to bounds check any such access"),
            ));
        }
        let hi = reg.val.umax as i64 + off;
        if !Self::mem_ok(hi, size, mem_size, zero_ok) {
            let mut e = self.mem_oob(r, hi, size, mem_size);
            e.message.push_str(&format!(
                "\nR{r} max value is outside of the allowed memory range"
            ));
            return Err(e);
        }
        Ok(())
    }

    /// `check_packet_access`: within the range a comparison with
    /// `pkt_end` proved.
    pub(crate) fn check_packet_access(
        &self,
        r: usize,
        off: i64,
        size: i64,
        zero_ok: bool,
    ) -> VResult {
        let reg = self.cur.reg(r);
        if reg.val.smin < 0 {
            return Err(self.reject(
                RejectionKind::NegativeMin { reg: r as u8 },
                format!("R{r} min value is negative, either use unsigned index or do a if (index >=0) check."),
            ));
        }
        if reg.range < 0 || !Self::mem_ok(off, size, reg.range as i64, zero_ok) {
            let mut e = self.mem_oob(r, off, size, reg.range as i64);
            e.message
                .push_str(&format!("\nR{r} offset is outside of the packet"));
            return Err(e);
        }
        Ok(())
    }

    /// `check_ctx_access` through the program type's descriptor.
    fn check_ctx_access(
        &mut self,
        off: i64,
        size: u32,
        kind: AccessKind,
        read_dst: Option<usize>,
        sign_extend: bool,
    ) -> VResult {
        let Some(desc) = self.desc else {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::CtxAccess {
                    off,
                    size,
                    why: None,
                },
                format!(
                    "invalid bpf_context access off={off} size={size} (ironbpf has no context description for program type {})",
                    self.opts.prog_type.name()
                ),
            ));
        };
        let access = CtxAccess {
            off,
            size,
            kind,
            attach_type: self.opts.attach_type,
            privileged: self.opts.privileged,
        };
        match desc.is_valid_access(&access) {
            // A sign-extending load of a pointer field (data, data_end,
            // data_meta) is refused, as 6.18's is_valid_access functions
            // refuse `info->is_ldsx` there.
            Ok(ok) if sign_extend && ok.yields != CtxYield::Scalar => Err(self.reject(
                RejectionKind::CtxAccess {
                    off,
                    size,
                    why: None,
                },
                format!("invalid bpf_context access off={off} size={size}"),
            )),
            Ok(ok) => {
                if let Some(d) = read_dst {
                    let mut r = match ok.yields {
                        CtxYield::Scalar => {
                            RegState::scalar(alu::scalar_load(size as u8, sign_extend))
                        }
                        CtxYield::PtrToPacket => RegState::pointer(RegType::Packet),
                        CtxYield::PtrToPacketEnd => RegState::pointer(RegType::PacketEnd),
                        CtxYield::PtrToPacketMeta => RegState::pointer(RegType::PacketMeta),
                        CtxYield::PtrToFlowKeys => RegState::pointer(RegType::FlowKeys),
                        CtxYield::PtrToSocket => RegState::pointer(RegType::Socket),
                        CtxYield::PtrToSocketOrNull => RegState {
                            maybe_null: true,
                            ..RegState::pointer(RegType::Socket)
                        },
                        CtxYield::PtrToSockCommonOrNull => RegState {
                            maybe_null: true,
                            ..RegState::pointer(RegType::SockCommon)
                        },
                        CtxYield::PtrToTpBuffer => RegState::pointer(RegType::TpBuffer),
                        CtxYield::PtrToBtfId => self.ctx_btf_pointer(off),
                    };
                    if r.maybe_null {
                        r.id = self.new_id();
                    }
                    *self.cur.reg_mut(d) = r;
                }
                Ok(())
            }
            Err(why) => Err(self.reject(
                RejectionKind::CtxAccess {
                    off,
                    size,
                    why: Some(why),
                },
                format!("invalid bpf_context access off={off} size={size}"),
            )),
        }
    }

    /// `check_stack_access_within_bounds`; grows the frame's stack.
    pub(crate) fn check_stack_bounds(
        &mut self,
        r: usize,
        off: i64,
        size: i64,
        t: Access,
        helper: &str,
    ) -> VResult {
        let reg = *self.cur.reg(r);
        // Linux 6.18 names a helper's access by its direction too (a
        // helper argument the helper writes is a write).
        let _ = helper;
        let extra = if t == Access::Read {
            " read from"
        } else {
            " write to"
        };
        let (min_off, max_off) = if reg.val.var_off.is_const() {
            let m = reg.val.var_off.value as i64 + off;
            (m, m + size)
        } else {
            if reg.val.smax >= BPF_MAX_VAR_OFF || reg.val.smin <= -BPF_MAX_VAR_OFF {
                return Err(self.reject(
                    RejectionKind::StackOutOfBounds { off, size },
                    format!("invalid unbounded variable-offset{extra} stack R{r}"),
                ));
            }
            (reg.val.smin + off, reg.val.smax + off + size)
        };
        // `check_stack_slot_within_bounds`: an unprivileged read may not go
        // below the stack the frame has allocated (written or read) so far.
        let frame = reg.frameno as usize;
        let min_valid = if t == Access::Write || self.opts.privileged {
            -(MAX_BPF_STACK as i64)
        } else {
            -(self
                .cur
                .frames
                .get(frame)
                .map_or(0, |f| f.allocated_stack()) as i64)
        };
        let bad = min_off < min_valid || max_off > 0 || size < 0 || min_off >= 0;
        if bad {
            let msg = if reg.val.var_off.is_const() {
                format!("invalid{extra} stack R{r} off={off} size={size}")
            } else {
                format!(
                    "invalid variable-offset{extra} stack R{r} var_off={} off={off} size={size}",
                    reg.val.var_off
                )
            };
            // Inside the 512 bytes, below what was allocated: bytes never
            // written, the kernel's words for it notwithstanding.
            let kind =
                if min_off >= -(MAX_BPF_STACK as i64) && max_off <= 0 && size >= 0 && min_off < 0 {
                    RejectionKind::UninitStack { off: min_off, size }
                } else {
                    RejectionKind::StackOutOfBounds { off: min_off, size }
                };
            return Err(self.reject(kind, msg));
        }
        let need = (-min_off) as usize;
        if let Some(fr) = self.cur.frames.get_mut(frame) {
            fr.grow_stack(need);
            let sub = fr.subprog;
            if let Some(d) = self.stack_depth.get_mut(sub) {
                *d = (*d).max(need.next_multiple_of(BPF_REG_SIZE) as u32);
            }
        }
        Ok(())
    }

    fn stack_frame(&mut self, r: usize) -> usize {
        (self.cur.reg(r).frameno as usize).min(self.cur.frames.len() - 1)
    }

    /// `check_stack_read`.
    fn check_stack_read(
        &mut self,
        r: usize,
        off: i64,
        size: u32,
        dst: Option<usize>,
        sign_extend: bool,
    ) -> VResult {
        let reg = *self.cur.reg(r);
        let fi = self.stack_frame(r);
        let allow_uninit = self.opts.privileged;
        if !reg.val.var_off.is_const() {
            // check_stack_read_var_off: every byte in range initialised.
            let lo = reg.val.smin + off;
            let hi = reg.val.smax + off + size as i64;
            let pc = self.pc;
            self.stack_live
                .mark_read(&self.cur, fi, pc, crate::stack_live::slots_of(lo, hi));
            for a in lo..hi {
                let t = self
                    .cur
                    .frames
                    .get(fi)
                    .map_or(SlotType::Invalid, |f| f.byte_type(a));
                if t == SlotType::Invalid && !allow_uninit {
                    return Err(self.reject(
                        RejectionKind::UninitStack {
                            off: a,
                            size: size as i64,
                        },
                        format!(
                            "invalid variable-offset read from stack R{r} var_off={} off={off} size={size}",
                            reg.val.var_off
                        ),
                    ));
                }
            }
            // mark_reg_stack_read: the slots are scratched from the
            // lowest up to the first byte that is not STACK_ZERO; a read
            // of zeroes only loads 0.
            let mut zeros = true;
            for a in lo..hi {
                self.scratch.slot(byte_pos(a).0);
                let t = self
                    .cur
                    .frames
                    .get(fi)
                    .map_or(SlotType::Invalid, |f| f.byte_type(a));
                if t != SlotType::Zero {
                    zeros = false;
                    break;
                }
            }
            if let Some(d) = dst {
                if zeros {
                    *self.cur.reg_mut(d) = RegState::constant(0);
                } else {
                    self.set_loaded(d, size, sign_extend);
                }
            }
            return Ok(());
        }
        let off = off + reg.val.var_off.value as i64;
        let (spi, _) = byte_pos(off);
        self.scratch.slot(spi);
        let pc = self.pc;
        self.stack_live
            .mark_read(&self.cur, fi, pc, crate::stack_live::slots_of(off, off + 1));
        // check_stack_access kept `off` within the frame's stack.
        let Some(&slot) = self.cur.frames.get(fi).and_then(|f| f.stack.get(spi)) else {
            return Err(Rejection::internal(
                Some(self.pc),
                format_args!("frame {fi} has no stack slot {spi} for off {off}"),
            ));
        };
        if slot.is_spill() {
            let spill_size = slot
                .ty
                .iter()
                .rev()
                .take_while(|t| **t == SlotType::Spill)
                .count();
            let sp = slot.spilled;
            if size as usize != BPF_REG_SIZE || spill_size != BPF_REG_SIZE {
                if !sp.is_scalar() {
                    return Err(self.reject(
                        RejectionKind::BadSpill { off },
                        "invalid size of register fill".into(),
                    ));
                }
                let Some(d) = dst else { return Ok(()) };
                // A narrow fill of the spilled part keeps its value.
                let narrow_ok = (size as usize) <= spill_size && off.rem_euclid(8) == 0;
                if narrow_ok {
                    if self.opts.privileged
                        && size == 4
                        && spill_size == 4
                        && scalar_width(&sp.val) <= 32
                    {
                        // The slot gets an id to link the fill with.
                        self.slot_scalar_id_before_mov(fi, spi);
                    }
                    let sp = self
                        .cur
                        .frames
                        .get(fi)
                        .and_then(|f| f.stack.get(spi))
                        .map_or(sp, |s| s.spilled);
                    let mut v = sp;
                    // Only a fill narrower than the value breaks the link.
                    if scalar_width(&sp.val) > 8 * size {
                        v.id = 0;
                    }
                    if (size as usize) < BPF_REG_SIZE {
                        if sign_extend {
                            v.val.coerce_to_size_sx(size as u8);
                        } else {
                            v.val.coerce_to_size(size as u8);
                        }
                        v.val.sync();
                    }
                    *self.cur.reg_mut(d) = v;
                    return Ok(());
                }
                let (mut spill_cnt, mut zero_cnt) = (0, 0);
                for i in 0..size as i64 {
                    match self
                        .cur
                        .frames
                        .get(fi)
                        .map_or(SlotType::Invalid, |f| f.byte_type(off + i))
                    {
                        SlotType::Spill => spill_cnt += 1,
                        SlotType::Misc => {}
                        SlotType::Zero => zero_cnt += 1,
                        SlotType::Invalid if allow_uninit => {}
                        // An iterator's slots are not readable.
                        SlotType::Invalid | SlotType::Iter | SlotType::Dynptr => {
                            return Err(self.reject(
                                RejectionKind::UninitStack {
                                    off,
                                    size: size as i64,
                                },
                                format!("invalid read from stack off {off}+{i} size {size}"),
                            ))
                        }
                    }
                }
                if (spill_cnt == size && sp.const_value() == Some(0)) || zero_cnt == size {
                    *self.cur.reg_mut(d) = RegState::constant(0);
                } else {
                    self.set_loaded(d, size, sign_extend);
                }
                return Ok(());
            }
            if let Some(d) = dst {
                *self.cur.reg_mut(d) = sp;
            } else if sp.is_pointer() && !self.opts.privileged {
                return Err(self.reject(
                    RejectionKind::PointerLeak {
                        reg: r as u8,
                        into: "a scalar",
                    },
                    format!("leaking pointer from stack off {off}"),
                ));
            }
            return Ok(());
        }
        let mut zeros = 0;
        for i in 0..size as i64 {
            match self
                .cur
                .frames
                .get(fi)
                .map_or(SlotType::Invalid, |f| f.byte_type(off + i))
            {
                SlotType::Misc => {}
                SlotType::Zero => zeros += 1,
                SlotType::Invalid if allow_uninit => {}
                _ => {
                    return Err(self.reject(
                        RejectionKind::UninitStack {
                            off,
                            size: size as i64,
                        },
                        format!("invalid read from stack off {off}+{i} size {size}"),
                    ))
                }
            }
        }
        if let Some(d) = dst {
            if zeros == size {
                *self.cur.reg_mut(d) = RegState::constant(0);
            } else {
                self.set_loaded(d, size, sign_extend);
            }
        }
        Ok(())
    }

    /// `check_stack_write`: spills keep the register, other writes make
    /// `STACK_MISC` or `STACK_ZERO` bytes.
    fn check_stack_write(&mut self, r: usize, off: i64, size: u32, value: Value) -> VResult {
        let reg = *self.cur.reg(r);
        let fi = self.stack_frame(r);
        let cur_frame = self.cur.frames.len() - 1;
        let privileged = self.opts.privileged;
        if !reg.val.var_off.is_const() {
            // check_stack_write_var_off: every byte may be written.
            let lo = reg.val.smin + off;
            let hi = reg.val.smax + off + size as i64;
            // Dynptrs in range are destroyed first (crate::dynptr).
            self.dynptr_store(fi, lo, hi)?;
            let zero = match value {
                Value::Reg(v) => self.cur.reg(v).is_null(),
                Value::Imm(i) => i == 0,
                Value::None => false,
            };
            let pc = self.pc;
            let Some(fr) = self.cur.frames.get_mut(fi) else {
                return Err(Rejection::internal(
                    Some(pc),
                    format_args!("no frame {fi} for R{r}"),
                ));
            };
            for a in lo..hi {
                let (spi, j) = byte_pos(a);
                // Each slot in range is printed after the insn.
                self.scratch.slot(spi);
                // check_stack_access kept [lo, hi) within the frame's stack.
                let Some(s) = fr.stack.get_mut(spi) else {
                    return Err(Rejection::internal(
                        Some(pc),
                        format_args!("frame {fi} has no stack slot {spi} for off {a}"),
                    ));
                };
                if s.is_spill() {
                    s.scrub_spilled_slot();
                    s.spilled = RegState::not_init();
                }
                if let Some(t) = s.ty.get_mut(j) {
                    if !(zero && *t == SlotType::Zero) {
                        *t = SlotType::Misc;
                    }
                }
            }
            return Ok(());
        }
        let off = off + reg.val.var_off.value as i64;
        let (spi, _) = byte_pos(off);
        self.scratch.slot(spi);
        // check_stack_access kept `off` within the frame's stack.
        let Some(&slot) = self.cur.frames.get(fi).and_then(|f| f.stack.get(spi)) else {
            return Err(Rejection::internal(
                Some(self.pc),
                format_args!("frame {fi} has no stack slot {spi} for off {off}"),
            ));
        };
        if !privileged
            && slot.is_spill()
            && !slot.spilled.is_scalar()
            && size as usize != BPF_REG_SIZE
        {
            return Err(self.reject(
                RejectionKind::BadSpill { off },
                "attempt to corrupt spilled pointer on stack".into(),
            ));
        }
        if !privileged {
            // A barrier goes after a store a speculative load could see
            // stale (`nospec_result`, Spectre v4): a register of a spillable
            // size, or bytes 0..size of the slot not MISC or ZERO (the
            // kernel's own indexing).
            let sanitize = (matches!(value, Value::Reg(_)) && matches!(size, 1 | 2 | 4 | 8))
                || slot
                    .ty
                    .iter()
                    .take(size as usize)
                    .any(|t| !matches!(t, SlotType::Misc | SlotType::Zero));
            if sanitize {
                self.note_nospec_result();
            }
        }
        // A dynptr in the slot is destroyed first (crate::dynptr).
        self.dynptr_store(fi, off, off + size as i64)?;
        let aligned = off.rem_euclid(BPF_REG_SIZE as i64) == 0;
        if aligned && size as usize == BPF_REG_SIZE {
            // Only a whole aligned slot counts as overwritten.
            self.stack_live
                .mark_write(fi, crate::stack_live::slots_of(off, off + 1));
        }
        let vreg = match value {
            Value::Reg(v) => Some(*self.cur.reg(v)),
            _ => None,
        };
        // The slot exists: it was read above.
        let spill = |frames: &mut [FuncState], v: RegState, size: usize| {
            let Some(s) = frames.get_mut(fi).and_then(|f| f.stack.get_mut(spi)) else {
                return;
            };
            s.spilled = v;
            for t in s.ty.iter_mut().skip(BPF_REG_SIZE - size) {
                *t = SlotType::Spill;
            }
            for t in s.ty.iter_mut().take(BPF_REG_SIZE - size) {
                if *t != SlotType::Zero && *t != SlotType::Invalid {
                    *t = SlotType::Misc;
                }
            }
        };
        match (vreg, value) {
            (Some(v), Value::Reg(vr)) if aligned && v.is_scalar() && privileged => {
                let fits = scalar_width(&v.val) <= 8 * size;
                if fits {
                    self.scalar_id_before_mov(vr);
                }
                let mut v = *self.cur.reg(vr);
                if !fits {
                    v.id = 0;
                }
                spill(&mut self.cur.frames, v, size as usize);
            }
            (None, Value::Imm(imm)) if aligned && privileged => {
                spill(
                    &mut self.cur.frames,
                    RegState::constant(imm as i64 as u64),
                    size as usize,
                );
            }
            (Some(v), _) if v.is_pointer() => {
                if size as usize != BPF_REG_SIZE {
                    return Err(self.reject(
                        RejectionKind::BadSpill { off },
                        "invalid size of register spill".into(),
                    ));
                }
                if fi != cur_frame && v.ty == RegType::Stack {
                    return Err(self.reject_errno(
                        EINVAL,
                        RejectionKind::BadSpill { off },
                        "cannot spill pointers to stack into stack frame of the caller".into(),
                    ));
                }
                spill(&mut self.cur.frames, v, BPF_REG_SIZE);
            }
            _ => {
                let zero = match (vreg, value) {
                    (Some(v), _) => v.is_null(),
                    (None, Value::Imm(i)) => i == 0,
                    _ => false,
                };
                if let (true, Value::Reg(r)) = (zero, value) {
                    // STACK_ZERO holds only while the stored register is
                    // zero: the kernel marks it precise here.
                    self.mark_chain_precision(r);
                }
                let pc = self.pc;
                let Some(s) = self
                    .cur
                    .frames
                    .get_mut(fi)
                    .and_then(|f| f.stack.get_mut(spi))
                else {
                    return Err(Rejection::internal(
                        Some(pc),
                        format_args!("frame {fi} has no stack slot {spi} for off {off}"),
                    ));
                };
                if s.is_spill() {
                    s.scrub_spilled_slot();
                }
                s.spilled = RegState::not_init();
                let ty = if zero { SlotType::Zero } else { SlotType::Misc };
                for i in 0..size as i64 {
                    let (_, j) = byte_pos(off + i);
                    if let Some(t) = s.ty.get_mut(j) {
                        *t = ty;
                    }
                }
            }
        }
        Ok(())
    }

    /// `check_ld_imm`.
    pub(crate) fn check_ld_imm(&mut self, insn: &Insn) -> VResult {
        let Insn::LdImm64 {
            dst,
            src,
            imm,
            next_imm,
        } = *insn
        else {
            return Ok(());
        };
        let d = dst.index();
        self.check_dst(d)?;
        let r = match src {
            LdImm64Src::Imm => RegState::constant(Insn::imm64(imm, next_imm)),
            LdImm64Src::MapIdx | LdImm64Src::MapIdxValue => {
                let Some(m) = self.opts.maps.get(imm as usize) else {
                    return Err(self.reject_errno(
                        EINVAL,
                        RejectionKind::BadMapReference {
                            pc: self.pc,
                            index: imm as i64,
                        },
                        format!(
                            "fd_idx {imm} is not a map of the program ({} maps are given)",
                            self.opts.maps.len()
                        ),
                    ));
                };
                if src == LdImm64Src::MapIdx {
                    RegState {
                        map: imm as u32,
                        ..RegState::pointer(RegType::ConstPtrToMap)
                    }
                } else {
                    if next_imm < 0 || next_imm as u32 >= m.value_size {
                        return Err(self.reject_errno(
                            EINVAL,
                            RejectionKind::BadMapReference {
                                pc: self.pc,
                                index: imm as i64,
                            },
                            format!(
                                "invalid access to map value pointer, value_size={} off={}",
                                m.value_size, next_imm as u32
                            ),
                        ));
                    }
                    RegState {
                        map: imm as u32,
                        off: next_imm,
                        ..RegState::pointer(RegType::MapValue)
                    }
                }
            }
            LdImm64Src::Func => {
                let target = (self.pc as i64 + imm as i64 + 1) as usize;
                self.check_pseudo_func(self.cfg.subprog_of(target))?;
                RegState {
                    subprog: self.cfg.subprog_of(target) as u32,
                    ..RegState::pointer(RegType::Func)
                }
            }
            LdImm64Src::MapFd | LdImm64Src::MapValue => {
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::BadMapReference {
                        pc: self.pc,
                        index: imm as i64,
                    },
                    format!(
                        "insn {}: map fd {imm} given as BPF_PSEUDO_MAP_FD: ironbpf's verifier resolves maps by index (BPF_PSEUDO_MAP_IDX); let the loader rewrite the reference",
                        self.pc
                    ),
                ));
            }
            // A kernel variable by BTF id (crate::ksym).
            LdImm64Src::BtfId => crate::ksym::pseudo_btf_id(self.pc, imm, next_imm)?,
        };
        *self.cur.reg_mut(d) = r;
        Ok(())
    }

    /// `check_ld_abs`: the legacy skb loads; the next instruction to
    /// explore.
    pub(crate) fn check_ld_abs(&mut self, insn: &Insn) -> VResult<Option<usize>> {
        let name = self.opts.prog_type.name();
        if !matches!(name, "socket_filter" | "sched_cls" | "sched_act") {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::Unsupported {
                    pc: self.pc,
                    what: "BPF_LD_ABS",
                },
                "BPF_LD_[ABS|IND] instructions not allowed for this program type".into(),
            ));
        }
        self.check_src(6)?;
        // check_resource_leak: the load may end the program, so nothing
        // may be held.
        self.lock_exit_check("BPF_LD_[ABS|IND]")?;
        if self.cur.frames.len() == 1 {
            if let Some(first) = self.cur.refs.first().copied() {
                let mut msg = String::new();
                for r in &self.cur.refs {
                    msg.push_str(&format!(
                        "Unreleased reference id={} alloc_insn={}\n",
                        r.id, r.insn
                    ));
                }
                msg.push_str("BPF_LD_[ABS|IND] would lead to reference leak");
                return Err(self.reject_errno(
                    EINVAL,
                    RejectionKind::UnreleasedReference {
                        id: first.id,
                        insn: first.insn,
                    },
                    msg,
                ));
            }
        }
        if self.cur.active_rcu_lock {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::RcuSection { pc: self.pc },
                "BPF_LD_[ABS|IND] cannot be used inside bpf_rcu_read_lock-ed region".into(),
            ));
        }
        let ctx = *self.cur.reg(6);
        if ctx.ty != RegType::Ctx {
            return Err(self.reject_errno(
                EINVAL,
                RejectionKind::InvalidMemAccess {
                    reg: 6,
                    reg_type: self.type_str(6),
                },
                "at the time of BPF_LD_ABS|IND R6 != pointer to skb".into(),
            ));
        }
        if let Insn::LdInd { src, .. } = *insn {
            self.check_src(src.index())?;
        }
        // check_ptr_off_reg: the skb itself, not a field of it.
        if ctx.off != 0 {
            return Err(self.reject(
                RejectionKind::ModifiedCtx {
                    reg: 6,
                    off: ctx.off as i64,
                },
                format!(
                    "dereference of modified ctx ptr R6 off={} disallowed",
                    ctx.off
                ),
            ));
        }
        for r in 1..=5 {
            *self.cur.reg_mut(r) = RegState::not_init();
            self.scratch.reg(r);
        }
        // Unknown, whatever the size: the kernel does not bound it.
        *self.cur.reg_mut(0) = RegState::scalar(Scalar::unknown());
        self.scratch.reg(0);
        if self.cur.frames.len() > 1 {
            // A load that fails ends the subprogram with r0 = 0 (the
            // hidden exit of `bpf_gen_ld_abs`); the one that succeeds goes
            // on, queued.
            let loaded = self.cur.clone();
            self.push_branch(loaded, self.pc + 1)?;
            *self.cur.reg_mut(0) = RegState::constant(0);
            return self.check_exit();
        }
        Ok(Some(self.pc + 1))
    }
}

/// The kernel struct behind a map of `map_type` (its ops' `map_btf_id`).
fn map_btf_struct(map_type: u32) -> Option<&'static str> {
    Some(match map_type {
        1 | 5 | 9 | 10 | 13 => "bpf_htab",
        2 | 3 | 4 | 6 | 8 | 12 => "bpf_array",
        7 => "bpf_stack_map",
        11 => "lpm_trie",
        14 | 25 => "bpf_dtab",
        15 => "bpf_stab",
        16 => "bpf_cpu_map",
        17 => "xsk_map",
        18 => "bpf_shtab",
        19 | 21 => "bpf_cgroup_storage_map",
        20 => "reuseport_array",
        22 | 23 => "bpf_queue_stack",
        24 | 28 | 29 | 32 => "bpf_local_storage_map",
        26 => "bpf_struct_ops_map",
        27 | 31 => "bpf_ringbuf_map",
        30 => "bpf_bloom_filter",
        33 => "bpf_arena",
        _ => return None,
    })
}

/// `get_reg_width`: bits needed for the scalar's unsigned maximum.
fn scalar_width(v: &Scalar) -> u32 {
    64 - v.umax.leading_zeros()
}

use crate::Rejection;
