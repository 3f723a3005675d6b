//! Register and stack state: the kernel's `bpf_reg_state`,
//! `bpf_stack_state`, `bpf_func_state` and `bpf_verifier_state`, and how the
//! log prints them (`R1=ctx()`, `fp-8=mmmm????`).

use crate::scalar::Scalar;
use crate::tnum::Tnum;
use crate::MapInfo;
use std::fmt::Write;

/// Registers r0 to r10.
pub const MAX_BPF_REG: usize = 11;
/// Bytes in a stack slot (`BPF_REG_SIZE`).
pub const BPF_REG_SIZE: usize = 8;
/// The stack of one frame (`MAX_BPF_STACK`).
pub const MAX_BPF_STACK: usize = 512;
/// Frames of bpf-to-bpf calls (`MAX_CALL_FRAMES`).
pub const MAX_CALL_FRAMES: usize = 8;

/// The base of a register's type (`enum bpf_reg_type` without its flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegType {
    /// `NOT_INIT`: never written, or clobbered by a call.
    NotInit,
    /// `SCALAR_VALUE`.
    Scalar,
    /// `PTR_TO_CTX`.
    Ctx,
    /// `CONST_PTR_TO_MAP`.
    ConstPtrToMap,
    /// `PTR_TO_MAP_VALUE`.
    MapValue,
    /// `PTR_TO_MAP_KEY`.
    MapKey,
    /// `PTR_TO_STACK`.
    Stack,
    /// `PTR_TO_PACKET_META`.
    PacketMeta,
    /// `PTR_TO_PACKET`.
    Packet,
    /// `PTR_TO_PACKET_END`.
    PacketEnd,
    /// `PTR_TO_FLOW_KEYS`.
    FlowKeys,
    /// `PTR_TO_SOCK_COMMON`.
    SockCommon,
    /// `PTR_TO_SOCKET`.
    Socket,
    /// `PTR_TO_TCP_SOCK`.
    TcpSock,
    /// `PTR_TO_TP_BUFFER`.
    TpBuffer,
    /// `PTR_TO_BTF_ID` (typed kernel objects; not followed further here).
    BtfId,
    /// `PTR_TO_MEM` (ring buffer records, `.rodata`-like memory).
    Mem,
    /// `PTR_TO_FUNC`.
    Func,
    /// `CONST_PTR_TO_DYNPTR`: a dynptr a helper hands to a callback
    /// (`crate::dynptr`).
    ConstPtrToDynptr,
}

impl RegType {
    /// The name `reg_type_str` prints for the base type.
    pub fn base_str(self) -> &'static str {
        match self {
            RegType::NotInit => "?",
            RegType::Scalar => "scalar",
            RegType::Ctx => "ctx",
            RegType::ConstPtrToMap => "map_ptr",
            RegType::MapValue => "map_value",
            RegType::MapKey => "map_key",
            RegType::Stack => "fp",
            RegType::PacketMeta => "pkt_meta",
            RegType::Packet => "pkt",
            RegType::PacketEnd => "pkt_end",
            RegType::FlowKeys => "flow_keys",
            RegType::SockCommon => "sock_common",
            RegType::Socket => "sock",
            RegType::TcpSock => "tcp_sock",
            RegType::TpBuffer => "tp_buffer",
            RegType::BtfId => "ptr_",
            RegType::Mem => "mem",
            RegType::Func => "func",
            RegType::ConstPtrToDynptr => "dynptr_ptr",
        }
    }

    /// A packet pointer (`type_is_pkt_pointer`).
    pub fn is_pkt(self) -> bool {
        matches!(self, RegType::Packet | RegType::PacketMeta)
    }

    /// A pointer into a map (`ks=,vs=` are printed).
    pub fn is_map_ptr(self) -> bool {
        matches!(
            self,
            RegType::ConstPtrToMap | RegType::MapValue | RegType::MapKey
        )
    }
}

/// A scalar's id with this bit was made by a 64-bit `rX += const` from a
/// register of the plain id: `off` holds the constant (linked scalars).
pub const BPF_ADD_CONST64: u32 = 1 << 31;
/// As [`BPF_ADD_CONST64`], for a 32-bit `wX += const` (the sum is
/// zero-extended when the link refines it).
pub const BPF_ADD_CONST32: u32 = 1 << 30;
/// A packet pointer's `range` on the edge where it is past `pkt_end`.
pub const BEYOND_PKT_END: i32 = -2;
/// A packet pointer's `range` on the edge where it is at `pkt_end` or past.
pub const AT_PKT_END: i32 = -1;
/// Either of the linked-scalar delta bits.
pub const BPF_ADD_CONST: u32 = BPF_ADD_CONST64 | BPF_ADD_CONST32;

/// One register's abstract value (`struct bpf_reg_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegState {
    /// The base type.
    pub ty: RegType,
    /// `PTR_MAYBE_NULL`.
    pub maybe_null: bool,
    /// `MEM_RDONLY`.
    pub rdonly: bool,
    /// `MEM_RINGBUF`.
    pub ringbuf: bool,
    /// A pointer's fixed offset (`off`).
    pub off: i32,
    /// A scalar's value, or a pointer's variable offset (`var_off` and the
    /// ranges).
    pub val: Scalar,
    /// Shared by copies: null checks and packet range checks reach every
    /// register with the same id.
    pub id: u32,
    /// The reference (acquired object) this pointer holds.
    pub ref_obj_id: u32,
    /// For map pointers: the index of the map in [`crate::VerifyOptions::maps`].
    pub map: u32,
    /// For packet pointers: bytes known readable past the pointer (`range`).
    pub range: i32,
    /// For `PTR_TO_MEM`: its size (`mem_size`).
    pub mem_size: u32,
    /// For stack pointers: the frame they point into.
    pub frameno: u32,
    /// For `PTR_TO_FUNC`: the subprogram.
    pub subprog: u32,
    /// A scalar whose exact value matters to a safety check
    /// (`precise`, printed `P`): pruning compares it, an imprecise one
    /// matches any scalar.
    pub precise: bool,
    /// For `PTR_TO_BTF_ID`: the vmlinux BTF type it points to (`btf_id`).
    pub btf_id: u32,
    /// For `PTR_TO_BTF_ID` and `PTR_TO_MEM`: the [`btf_flag`] type flags
    /// (`PTR_TRUSTED`, `PTR_UNTRUSTED`, `MEM_RCU`, ...).
    pub btf_flags: u8,
    /// For the slots of an open-coded iterator (`STACK_ITER`): its state
    /// and loop depth (`iter`; the iterator's BTF type is `btf_id`).
    pub iter: IterState,
    /// Dynptrs (`crate::dynptr`): for the slots of one (`STACK_DYNPTR`)
    /// and `CONST_PTR_TO_DYNPTR`, its type and first slot
    /// (`reg->dynptr`); for `PTR_TO_MEM`, the `DYNPTR_TYPE_*` flag of a
    /// slice, its dynptr (`dynptr_id`) and the stack buffer it may be.
    pub dynptr: crate::dynptr::DynptrInfo,
}

/// An open-coded iterator's state (`bpf_reg_state.iter`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IterState {
    /// `BPF_ITER_STATE_DRAINED` (else `ACTIVE`).
    pub drained: bool,
    /// How many `next` calls returned an element on this path (`depth`).
    pub depth: u32,
}

/// The type flags of BTF pointers (`enum bpf_type_flag`), as bits of
/// [`RegState::btf_flags`].
pub mod btf_flag {
    /// `PTR_TRUSTED`.
    pub const TRUSTED: u8 = 1;
    /// `PTR_UNTRUSTED`.
    pub const UNTRUSTED: u8 = 2;
    /// `MEM_RCU`.
    pub const RCU: u8 = 4;
    /// `MEM_USER` (`__user`).
    pub const USER: u8 = 8;
    /// `MEM_PERCPU` (`__percpu`).
    pub const PERCPU: u8 = 16;
    /// `MEM_ALLOC`: an object the program allocated (`bpf_obj_new`), of a
    /// type of the program's BTF (`crate::obj_new`).
    pub const ALLOC: u8 = 32;
    /// `NON_OWN_REF`: an allocated object in a list or rbtree, valid until
    /// the lock is released (`crate::obj_new`).
    pub const NON_OWN: u8 = 64;
}

impl RegState {
    /// `NOT_INIT`.
    pub fn not_init() -> RegState {
        RegState {
            ty: RegType::NotInit,
            maybe_null: false,
            rdonly: false,
            ringbuf: false,
            off: 0,
            val: Scalar::unknown(),
            id: 0,
            ref_obj_id: 0,
            map: 0,
            range: 0,
            mem_size: 0,
            frameno: 0,
            subprog: 0,
            precise: false,
            btf_id: 0,
            btf_flags: 0,
            iter: IterState {
                drained: false,
                depth: 0,
            },
            dynptr: crate::dynptr::DynptrInfo::NONE,
        }
    }

    /// A scalar with the given bounds.
    pub fn scalar(val: Scalar) -> RegState {
        RegState {
            ty: RegType::Scalar,
            val,
            ..RegState::not_init()
        }
    }

    /// An unknown scalar (`mark_reg_unknown`).
    pub fn unknown() -> RegState {
        RegState::scalar(Scalar::unknown())
    }

    /// A known constant (`__mark_reg_known`).
    pub fn constant(v: u64) -> RegState {
        RegState::scalar(Scalar::constant(v))
    }

    /// A pointer of type `ty` at a fixed offset 0 (`mark_reg_known_zero`).
    pub fn pointer(ty: RegType) -> RegState {
        RegState {
            ty,
            val: Scalar::constant(0),
            ..RegState::not_init()
        }
    }

    /// A stack pointer `fp<off>` into frame `frameno`.
    pub fn stack_ptr(frameno: u32, off: i32) -> RegState {
        RegState {
            frameno,
            off,
            ..RegState::pointer(RegType::Stack)
        }
    }

    /// A scalar.
    pub fn is_scalar(&self) -> bool {
        self.ty == RegType::Scalar
    }

    /// Any pointer type (`__is_pointer_value`).
    pub fn is_pointer(&self) -> bool {
        !matches!(self.ty, RegType::Scalar | RegType::NotInit)
    }

    /// A scalar known to be zero (`register_is_null`).
    pub fn is_null(&self) -> bool {
        self.is_scalar() && self.val.const_value() == Some(0)
    }

    /// The constant a scalar holds.
    pub fn const_value(&self) -> Option<u64> {
        if self.is_scalar() {
            self.val.const_value()
        } else {
            None
        }
    }

    /// The variable part of a pointer's offset is a known constant.
    pub fn var_off_const(&self) -> bool {
        self.val.var_off.is_const()
    }

    /// `reg_type_str`: the prefix flags, the base and `_or_null`.
    pub fn type_str(&self) -> String {
        let mut s = String::new();
        if self.rdonly {
            s.push_str("rdonly_");
        }
        if self.ringbuf {
            s.push_str("ringbuf_");
        }
        for (bit, p) in [
            (btf_flag::USER, "user_"),
            (btf_flag::PERCPU, "percpu_"),
            (btf_flag::RCU, "rcu_"),
            (btf_flag::UNTRUSTED, "untrusted_"),
            (btf_flag::TRUSTED, "trusted_"),
        ] {
            if self.btf_flags & bit != 0 {
                s.push_str(p);
            }
        }
        s.push_str(self.ty.base_str());
        if self.maybe_null {
            // `ptr_or_null_task_struct`: the BTF name follows.
            s.push_str(if self.ty == RegType::BtfId {
                "or_null_"
            } else {
                "_or_null"
            });
        }
        s
    }

    /// `print_reg_state`: `5`, `fp-8`, `ctx()`, `map_value(map=m,ks=4,vs=8)`,
    /// `scalar(smin=...)`. `cur_frame` is the frame the register lives in.
    pub fn write(&self, out: &mut String, cur_frame: u32, maps: &[MapInfo]) {
        self.write_p(out, cur_frame, maps, false);
    }

    /// [`RegState::write`], with every scalar printed precise when
    /// `all_precise` (an unprivileged loader's scalars all are).
    pub fn write_p(&self, out: &mut String, cur_frame: u32, maps: &[MapInfo], all_precise: bool) {
        if self.ty == RegType::Scalar && (self.precise || all_precise) {
            out.push('P');
        }
        if self.ty == RegType::Scalar && self.val.var_off.is_const() {
            write_snum(out, self.val.var_off.value);
            return;
        }
        out.push_str(&self.type_str());
        if self.ty == RegType::BtfId && self.btf_flags & btf_flag::ALLOC != 0 {
            // A type of the program's BTF.
            out.push_str(&crate::obj_new::prog_type_name(self.btf_id));
        } else if self.ty == RegType::BtfId {
            out.push_str(&crate::vmlinux::type_name(self.btf_id));
        }
        if self.ty == RegType::Stack {
            if self.frameno != cur_frame {
                let _ = write!(out, "[{}]", self.frameno);
            }
            if self.val.var_off.is_const() {
                write_snum(
                    out,
                    self.val.var_off.value.wrapping_add(self.off as i64 as u64),
                );
                return;
            }
        }
        out.push('(');
        let mut first = true;
        let mut attr = |out: &mut String, s: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(s);
        };
        if self.id != 0 {
            let mut a = format!("id={}", self.id & !BPF_ADD_CONST);
            if self.id & BPF_ADD_CONST != 0 {
                let _ = write!(a, "{:+}", self.off);
            }
            attr(out, &a);
        }
        if self.ref_obj_id != 0 {
            attr(out, &format!("ref_obj_id={}", self.ref_obj_id));
        }
        if self.btf_flags & btf_flag::NON_OWN != 0 {
            attr(out, "non_own_ref");
        }
        if self.ty.is_map_ptr() {
            if let Some(m) = maps.get(self.map as usize) {
                if !m.name.is_empty() {
                    // The kernel keeps BPF_OBJ_NAME_LEN - 1 bytes of it.
                    let n = (0..=m.name.len().min(15))
                        .rev()
                        .find(|&i| m.name.is_char_boundary(i))
                        .unwrap_or(0);
                    attr(out, &format!("map={}", m.name.get(..n).unwrap_or_default()));
                }
                // Before `off=`, as the kernel prints them.
                attr(out, &format!("ks={},vs={}", m.key_size, m.value_size));
            }
        }
        if self.ty != RegType::Scalar && self.off != 0 {
            attr(out, &format!("off={}", self.off));
        }
        if self.ty.is_pkt() {
            if self.range < 0 {
                // AT_PKT_END / BEYOND_PKT_END, printed as the kernel's
                // unsigned number.
                attr(out, &format!("r={:#x}", self.range as i64 as u64));
            } else {
                attr(out, &format!("r={}", self.range));
            }
        }
        if self.ty == RegType::Mem {
            attr(out, &format!("sz={}", self.mem_size));
            if let Some(b) = self.dynptr.buf_str() {
                attr(out, &b);
            }
        }
        if self.ty == RegType::ConstPtrToDynptr {
            attr(out, &format!("type={}", self.dynptr.ty.name()));
        }
        if self.val.var_off.is_const() {
            if self.val.var_off.value != 0 {
                attr(out, &format!("imm={:x}", self.val.var_off.value));
            }
        } else {
            let mut ranges = String::new();
            self.val.write_attrs(&mut ranges);
            if !ranges.is_empty() {
                attr(out, &ranges);
            }
        }
        out.push(')');
    }
}

/// The kernel's `verbose_snum`: decimal within the s16 range, hex otherwise.
pub fn write_snum(out: &mut String, v: u64) {
    crate::scalar::write_snum(out, v)
}

/// What one byte of the stack holds (`enum bpf_stack_slot_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotType {
    /// `STACK_INVALID`: never written.
    Invalid,
    /// `STACK_SPILL`: part of a spilled register.
    Spill,
    /// `STACK_MISC`: some scalar byte.
    Misc,
    /// `STACK_ZERO`: a known zero byte.
    Zero,
    /// `STACK_ITER`: part of an open-coded iterator (`crate::iter`).
    Iter,
    /// `STACK_DYNPTR`: part of a dynptr (`crate::dynptr`).
    Dynptr,
}

impl SlotType {
    fn ch(self) -> char {
        match self {
            SlotType::Invalid => '?',
            SlotType::Spill => 'r',
            SlotType::Misc => 'm',
            SlotType::Zero => '0',
            SlotType::Iter => 'i',
            SlotType::Dynptr => 'd',
        }
    }
}

/// One 8-byte stack slot (`struct bpf_stack_state`). `ty[j]` is the byte
/// at `fp - 8*spi - 1 - j` (index 7 is the slot's lowest address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StackSlot {
    /// Per byte.
    pub ty: [SlotType; BPF_REG_SIZE],
    /// The register spilled here (when `ty[7]` is `Spill`).
    pub spilled: RegState,
}

impl StackSlot {
    /// A never-written slot.
    pub fn invalid() -> StackSlot {
        StackSlot {
            ty: [SlotType::Invalid; BPF_REG_SIZE],
            spilled: RegState::not_init(),
        }
    }

    /// Holds a spilled register (`is_spilled_reg`).
    pub fn is_spill(&self) -> bool {
        self.ty[BPF_REG_SIZE - 1] == SlotType::Spill
    }

    /// Every written byte becomes STACK_MISC, as the kernel's
    /// `scrub_spilled_slot` does when part of a spilled register is
    /// overwritten or a helper writes over it; never-written bytes stay
    /// STACK_INVALID. The caller decides what becomes of `spilled`.
    pub fn scrub_spilled_slot(&mut self) {
        for t in self.ty.iter_mut() {
            if *t != SlotType::Invalid {
                *t = SlotType::Misc;
            }
        }
    }
}

/// One frame: its registers and stack (`struct bpf_func_state`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncState {
    /// r0 to r10.
    pub regs: [RegState; MAX_BPF_REG],
    /// Slot `spi` covers `fp-8*(spi+1)` to `fp-8*spi-1`.
    pub stack: Vec<StackSlot>,
    /// The frame's number (0 for the main program).
    pub frameno: u32,
    /// The call instruction that made this frame.
    pub callsite: usize,
    /// The subprogram the frame runs.
    pub subprog: usize,
    /// The frame is a callback's, entered from a helper (`in_callback_fn`).
    pub in_callback_fn: bool,
    /// The frame is an asynchronous callback's, a path of its own
    /// (`in_async_callback_fn`, `crate::timer`).
    pub in_async_callback_fn: bool,
    /// Callback iterations queued from this frame since it last went past
    /// a callback call (`callback_depth`), against `bpf_loop`'s bound.
    pub callback_depth: u32,
}

impl FuncState {
    /// A frame with every register `NOT_INIT` but r10.
    pub fn new(frameno: u32, callsite: usize, subprog: usize) -> FuncState {
        let mut regs = [RegState::not_init(); MAX_BPF_REG];
        regs[10] = RegState::stack_ptr(frameno, 0);
        FuncState {
            regs,
            stack: Vec::new(),
            frameno,
            callsite,
            subprog,
            in_callback_fn: false,
            in_async_callback_fn: false,
            callback_depth: 0,
        }
    }

    /// Bytes of stack the frame has touched (`allocated_stack`).
    pub fn allocated_stack(&self) -> usize {
        self.stack.len() * BPF_REG_SIZE
    }

    /// Grows the stack to hold `bytes` (`grow_stack_state`).
    pub fn grow_stack(&mut self, bytes: usize) {
        let slots = bytes.div_ceil(BPF_REG_SIZE);
        if slots > self.stack.len() {
            self.stack.resize(slots, StackSlot::invalid());
        }
    }

    /// The byte type at `fp+off` (`off` negative), `Invalid` if not allocated.
    pub fn byte_type(&self, off: i64) -> SlotType {
        let (spi, j) = byte_pos(off);
        self.stack
            .get(spi)
            .and_then(|s| s.ty.get(j).copied())
            .unwrap_or(SlotType::Invalid)
    }

    /// `print_verifier_state`: ` R1=ctx() R10=fp0 fp-8=mmmmmmmm`, only the
    /// registers and slots in `scratched` unless `all`.
    pub fn write(&self, out: &mut String, all: bool, scratch: &Scratch, maps: &[MapInfo]) {
        if self.frameno != 0 {
            let _ = write!(out, " frame{}:", self.frameno);
        }
        for (i, r) in self.regs.iter().enumerate() {
            if r.ty == RegType::NotInit || !(all || scratch.regs & (1 << i) != 0) {
                continue;
            }
            let _ = write!(out, " R{i}=");
            r.write_p(out, self.frameno, maps, scratch.all_precise);
        }
        for (i, s) in self.stack.iter().enumerate() {
            if s.ty.iter().all(|t| *t == SlotType::Invalid) {
                continue;
            }
            if !all && scratch.stack & (1u64 << (i as u32 % 64)) == 0 {
                continue;
            }
            if s.ty[0] == SlotType::Dynptr {
                // Printed once, at its lower slot, as its first slot.
                if !s.spilled.dynptr.first_slot {
                    crate::dynptr::write_dynptr_slot(out, i + 1, self.stack.get(i + 1));
                }
                continue;
            }
            if s.ty[0] == SlotType::Iter {
                // Prints its own ` fp-N=`.
                crate::iter::write_iter_slot(out, i, s);
                continue;
            }
            let _ = write!(out, " fp{}=", -(i as i64 + 1) * BPF_REG_SIZE as i64);
            if s.is_spill() {
                // A partial spill shows the bytes below it first.
                for t in s.ty.iter().take_while(|t| **t != SlotType::Spill) {
                    out.push(t.ch());
                }
                // `print_reg_state`, as for a register (one `P`).
                s.spilled
                    .write_p(out, self.frameno, maps, scratch.all_precise);
            } else {
                for t in s.ty {
                    out.push(t.ch());
                }
            }
        }
        if self.in_callback_fn {
            out.push_str(" cb");
        }
        if self.in_async_callback_fn {
            out.push_str(" async_cb");
        }
    }
}

/// The slot index and byte index of `fp+off` (`off` in `-512..0`).
pub fn byte_pos(off: i64) -> (usize, usize) {
    // The kernel's `slot = -off - 1`: 0 is fp-1; within a slot, index 7
    // is the lowest address (where spills start).
    let pos = (-off - 1) as usize;
    (pos / BPF_REG_SIZE, pos % BPF_REG_SIZE)
}

/// What the last instruction touched, for the `; R0=...` column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scratch {
    /// Bit per register.
    pub regs: u16,
    /// Bit per stack slot (slots past 63 share bits).
    pub stack: u64,
    /// Print every scalar as precise (`P`): an unprivileged program's
    /// scalars all are (`!env->bpf_capable`).
    pub all_precise: bool,
}

impl Scratch {
    /// Marks a register.
    pub fn reg(&mut self, r: usize) {
        self.regs |= 1 << r;
    }
    /// Marks a slot.
    pub fn slot(&mut self, spi: usize) {
        self.stack |= 1u64 << (spi as u32 % 64);
    }
    /// Whether anything was touched.
    pub fn any(&self) -> bool {
        self.regs != 0 || self.stack != 0
    }
    /// Marks the state as an unprivileged program's (every scalar precise).
    pub fn with_all_precise(mut self, on: bool) -> Scratch {
        self.all_precise = on;
        self
    }
}

/// An acquired reference (`struct bpf_reference_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RefState {
    /// Its id (`ref_obj_id` of the registers holding it).
    pub id: u32,
    /// The instruction that acquired it.
    pub insn: usize,
}

/// The whole machine state on one path (`struct bpf_verifier_state`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VState {
    /// Frames, the current one last.
    pub frames: Vec<FuncState>,
    /// Acquired references not yet released.
    pub refs: Vec<RefState>,
    /// `may_goto` fall-throughs taken on the way here (`may_goto_depth`,
    /// `crate::may_goto`).
    pub may_goto_depth: u32,
    /// Inside a `bpf_rcu_read_lock()` section (`active_rcu_lock`).
    pub active_rcu_lock: bool,
    /// `bpf_preempt_disable()` calls not yet matched by
    /// `bpf_preempt_enable()` (`active_preempt_locks`).
    pub active_preempt_locks: u32,
    /// IRQ states saved by `bpf_local_irq_save()` and not restored, the
    /// active one (`active_irq_id`) last (`crate::irq`).
    pub active_irqs: Vec<RefState>,
    /// The `bpf_spin_lock` and `bpf_res_spin_lock`s held, the last taken
    /// last (the lock references of `refs`, `crate::spin_lock`).
    pub active_locks: Vec<crate::spin_lock::HeldLock>,
    /// A path the CPU may run speculatively past a decided branch
    /// (`speculative`): explored for loaders without CAP_PERFMON, where an
    /// unsafe insn ends the path instead of the program
    /// (`sanitize_speculative_path`).
    pub speculative: bool,
}

impl VState {
    /// The current frame.
    #[allow(
        clippy::expect_used,
        reason = "a state is made with its main frame and a frame is popped only at the exit of a callee, \
                  so frames is never empty"
    )]
    pub fn cur(&self) -> &FuncState {
        self.frames.last().expect("a state always has a frame")
    }
    /// The current frame, mutably.
    #[allow(
        clippy::expect_used,
        reason = "a state is made with its main frame and a frame is popped only at the exit of a callee, \
                  so frames is never empty"
    )]
    pub fn cur_mut(&mut self) -> &mut FuncState {
        self.frames.last_mut().expect("a state always has a frame")
    }
    /// Register `r` of the current frame.
    #[allow(
        clippy::indexing_slicing,
        reason = "r is a register number the decoder validated (r0-r10, below MAX_BPF_REG) \
                  or a constant one"
    )]
    pub fn reg(&self, r: usize) -> &RegState {
        &self.cur().regs[r]
    }
    /// Register `r` of the current frame, mutably.
    #[allow(
        clippy::indexing_slicing,
        reason = "r is a register number the decoder validated (r0-r10, below MAX_BPF_REG) \
                  or a constant one"
    )]
    pub fn reg_mut(&mut self, r: usize) -> &mut RegState {
        &mut self.cur_mut().regs[r]
    }

    /// Removes reference `rid` (`release_reference_state`): the locks
    /// taken after it move up one place.
    pub fn remove_ref(&mut self, rid: u32) {
        let Some(i) = self.refs.iter().position(|r| r.id == rid) else {
            return;
        };
        self.refs.remove(i);
        for l in &mut self.active_locks {
            if l.refs_before > i {
                l.refs_before -= 1;
            }
        }
    }

    /// The ids of the references and held locks in the order they were
    /// taken (the kernel's `refs` array; a lock's id is its pointer's).
    pub fn ref_ids_in_order(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.refs.len() + self.active_locks.len());
        let mut locks = self.active_locks.iter().peekable();
        for (i, r) in self.refs.iter().enumerate() {
            while let Some(l) = locks.next_if(|l| l.refs_before <= i) {
                out.push(l.id);
            }
            out.push(r.id);
        }
        out.extend(locks.map(|l| l.id));
        out
    }

    /// Appends ` refs=...` to a frame's printed state `line`, before its
    /// ` cb` / ` async_cb` mark, as `print_verifier_state` does (nothing
    /// when the first of them is a lock of id 0).
    pub fn push_refs(&self, line: &mut String) {
        let ids = self.ref_ids_in_order();
        if ids.first().is_none_or(|&id| id == 0) {
            return;
        }
        let tail = [" async_cb", " cb"]
            .iter()
            .find(|t| line.ends_with(*t))
            .map_or("", |t| *t);
        line.truncate(line.len() - tail.len());
        line.push_str(" refs=");
        let ids: Vec<String> = ids
            .iter()
            .filter(|&&id| id != 0)
            .map(|id| id.to_string())
            .collect();
        line.push_str(&ids.join(","));
        line.push_str(tail);
    }

    /// Applies `f` to every register and spilled register of every frame.
    pub fn for_each_reg(&mut self, mut f: impl FnMut(&mut RegState)) {
        for fr in &mut self.frames {
            for r in &mut fr.regs {
                f(r);
            }
            for s in &mut fr.stack {
                if s.is_spill() {
                    f(&mut s.spilled);
                }
            }
        }
    }
}

/// The variable offset part of a pointer known to be in `[min, max]`.
pub fn var_range(r: &RegState) -> (i64, i64) {
    (r.val.smin, r.val.smax)
}

/// A tnum that is not fully unknown.
pub fn tnum_known(t: Tnum) -> bool {
    !t.is_unknown()
}

impl VState {
    /// The bytes this state occupies, inline and on the heap (its frames,
    /// their stack slots and the reference list), for the verifier's
    /// peak-memory figure.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<VState>()
            + self
                .frames
                .iter()
                .map(|f| {
                    std::mem::size_of::<FuncState>()
                        + f.stack.capacity() * std::mem::size_of::<StackSlot>()
                })
                .sum::<usize>()
            + self.refs.capacity() * std::mem::size_of::<RefState>()
    }
}
