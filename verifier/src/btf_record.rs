//! The special fields of a map value (`struct btf_record`), as Linux 6.18
//! finds them in the value's BTF type at `BPF_MAP_CREATE`
//! (`btf_parse_fields`): `struct bpf_spin_lock`, `bpf_res_spin_lock`,
//! `bpf_timer`, `bpf_wq`, `bpf_task_work`, the graph roots and nodes
//! (`bpf_list_head`, `bpf_rb_root`...), `bpf_refcount`, and the pointers
//! tagged `__kptr`, `__kptr_untrusted`, `__percpu_kptr` or `__uptr`.
//!
//! Fields are found in the value's struct, in the structs it nests and in
//! arrays of them (each element a field), and in the variables of a
//! global-data section (a `DATASEC` value type).
//!
//! The verifier uses the record for the arguments that must point at a
//! field (`ARG_PTR_TO_SPIN_LOCK`, `ARG_PTR_TO_TIMER`,
//! `ARG_KPTR_XCHG_DEST`) and to refuse plain loads and stores that overlap
//! one.

use ironbpf_btf::{kind, Btf};

/// The kind of a special field (`enum btf_field_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// `struct bpf_spin_lock` (`BPF_SPIN_LOCK`).
    SpinLock,
    /// `struct bpf_res_spin_lock` (`BPF_RES_SPIN_LOCK`).
    ResSpinLock,
    /// `struct bpf_timer` (`BPF_TIMER`).
    Timer,
    /// `struct bpf_wq` (`BPF_WORKQUEUE`).
    Workqueue,
    /// `struct bpf_task_work` (`BPF_TASK_WORK`).
    TaskWork,
    /// A pointer tagged `__kptr_untrusted` (`BPF_KPTR_UNREF`).
    KptrUnref,
    /// A pointer tagged `__kptr` (`BPF_KPTR_REF`).
    KptrRef,
    /// A pointer tagged `__percpu_kptr` (`BPF_KPTR_PERCPU`).
    KptrPercpu,
    /// A pointer tagged `__uptr` (`BPF_UPTR`).
    Uptr,
    /// `struct bpf_list_head` (`BPF_LIST_HEAD`).
    ListHead,
    /// `struct bpf_list_node` (`BPF_LIST_NODE`).
    ListNode,
    /// `struct bpf_rb_root` (`BPF_RB_ROOT`).
    RbRoot,
    /// `struct bpf_rb_node` (`BPF_RB_NODE`).
    RbNode,
    /// `struct bpf_refcount` (`BPF_REFCOUNT`).
    Refcount,
}

impl FieldKind {
    /// The kernel's `btf_field_type_name`, as its messages print it.
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::SpinLock => "bpf_spin_lock",
            FieldKind::ResSpinLock => "bpf_res_spin_lock",
            FieldKind::Timer => "bpf_timer",
            FieldKind::Workqueue => "bpf_wq",
            FieldKind::TaskWork => "bpf_task_work",
            FieldKind::KptrUnref | FieldKind::KptrRef => "kptr",
            FieldKind::KptrPercpu => "percpu_kptr",
            FieldKind::Uptr => "uptr",
            FieldKind::ListHead => "bpf_list_head",
            FieldKind::ListNode => "bpf_list_node",
            FieldKind::RbRoot => "bpf_rb_root",
            FieldKind::RbNode => "bpf_rb_node",
            FieldKind::Refcount => "bpf_refcount",
        }
    }

    /// A pointer field (`BPF_KPTR | BPF_UPTR`): loads and stores of the
    /// whole pointer are allowed.
    pub fn is_kptr(self) -> bool {
        matches!(
            self,
            FieldKind::KptrUnref | FieldKind::KptrRef | FieldKind::KptrPercpu | FieldKind::Uptr
        )
    }

    /// The struct type that is this field, by name.
    fn of_struct(name: &str) -> Option<FieldKind> {
        Some(match name {
            "bpf_spin_lock" => FieldKind::SpinLock,
            "bpf_res_spin_lock" => FieldKind::ResSpinLock,
            "bpf_timer" => FieldKind::Timer,
            "bpf_wq" => FieldKind::Workqueue,
            "bpf_task_work" => FieldKind::TaskWork,
            "bpf_list_head" => FieldKind::ListHead,
            "bpf_list_node" => FieldKind::ListNode,
            "bpf_rb_root" => FieldKind::RbRoot,
            "bpf_rb_node" => FieldKind::RbNode,
            "bpf_refcount" => FieldKind::Refcount,
            _ => return None,
        })
    }
}

/// One special field of a map value (`struct btf_field`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpecialField {
    /// Its byte offset in the value.
    pub offset: u32,
    /// Its size in bytes.
    pub size: u32,
    /// What it is.
    pub kind: FieldKind,
    /// For a kptr: the name of the struct it points to (looked up in the
    /// kernel's BTF, as `btf_parse_kptr` does).
    pub kptr_struct: String,
    /// For a kptr: the size of that struct in the value's BTF (a uptr's
    /// memory).
    pub target_size: u32,
    /// For a `bpf_list_head` or `bpf_rb_root`: what its `__contains` decl
    /// tag names (`struct btf_field_graph_root`).
    pub graph: Option<GraphRoot>,
    /// For a kptr to a struct the kernel's BTF does not have: its id in
    /// the value's BTF (a local kptr, to an allocated object,
    /// `btf_parse_kptr`).
    pub kptr_local: Option<u32>,
}

/// The nodes a graph root holds (`contains:<type>:<member>`), resolved
/// in the BTF the root was found in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GraphRoot {
    /// The struct of the nodes (`value_btf_id`).
    pub value_id: u32,
    /// Its name.
    pub value_name: String,
    /// The byte offset of the node member in it (`node_offset`).
    pub node_offset: u32,
}

/// The special fields of a map's value (`map->record`). The default is a
/// value without BTF and without special fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BtfRecord {
    /// The map was created with a BTF value type (`map->btf`).
    pub has_btf: bool,
    /// The fields, by increasing offset.
    pub fields: Vec<SpecialField>,
}

/// How deep structs may nest in a value (the kernel stops at the same
/// kind of depth: `MAX_RESOLVE_DEPTH`).
const MAX_DEPTH: u32 = 32;
/// The most fields a record holds (`BTF_FIELDS_MAX`).
const BTF_FIELDS_MAX: usize = 11;

impl BtfRecord {
    /// The record of the value type `value_type_id` of `btf` (0: a map
    /// without BTF). A type that does not resolve gives an error naming
    /// it, as `BPF_MAP_CREATE` would fail.
    pub fn parse(btf: &Btf, value_type_id: u32) -> Result<BtfRecord, String> {
        if value_type_id == 0 {
            return Ok(BtfRecord::default());
        }
        let mut rec = BtfRecord {
            has_btf: true,
            fields: Vec::new(),
        };
        rec.find_in(btf, value_type_id, 0, 0)?;
        rec.fields.sort_by_key(|f| f.offset);
        Ok(rec)
    }

    /// Whether a field of `kind` is in the record (`btf_record_has_field`).
    pub fn has(&self, kind: FieldKind) -> bool {
        self.fields.iter().any(|f| f.kind == kind)
    }

    /// The field of `kind` (the first: a value has at most one lock or
    /// timer).
    pub fn first(&self, kind: FieldKind) -> Option<&SpecialField> {
        self.fields.iter().find(|f| f.kind == kind)
    }

    /// The kptr field at `offset` (`btf_record_find(rec, off, BPF_KPTR |
    /// BPF_UPTR)`).
    pub fn kptr_at(&self, offset: i64) -> Option<&SpecialField> {
        self.fields
            .iter()
            .find(|f| f.kind.is_kptr() && i64::from(f.offset) == offset)
    }

    /// The first field that bytes `[lo, hi)` overlap.
    pub fn overlapping(&self, lo: i64, hi: i64) -> Option<&SpecialField> {
        self.fields
            .iter()
            .find(|f| lo < i64::from(f.offset) + i64::from(f.size) && i64::from(f.offset) < hi)
    }

    fn push(&mut self, f: SpecialField) -> Result<(), String> {
        if self.fields.len() >= BTF_FIELDS_MAX {
            return Err(format!(
                "the value has more than {BTF_FIELDS_MAX} special fields"
            ));
        }
        self.fields.push(f);
        Ok(())
    }

    /// The fields of type `id` placed at byte `base`.
    fn find_in(&mut self, btf: &Btf, id: u32, base: u32, depth: u32) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("type id {id}: structs nest too deep"));
        }
        let id = btf.skip_mods_and_typedefs(id).map_err(|e| e.0)?;
        let t = btf
            .get(id)
            .ok_or_else(|| format!("type id {id} does not exist"))?;
        match t.kind {
            kind::DATASEC => {
                for v in &t.secinfo {
                    let var = btf
                        .get(v.type_id)
                        .ok_or_else(|| format!("type id {} does not exist", v.type_id))?;
                    if var.kind == kind::VAR {
                        let before = self.fields.len();
                        self.find_member(btf, var.size_or_type, base + v.offset, depth + 1)?;
                        self.resolve_graph_root(btf, before, v.type_id, u32::MAX)?;
                    }
                }
            }
            kind::STRUCT | kind::UNION => {
                if let Some(k) = FieldKind::of_struct(btf.name(id)) {
                    // The value itself may be one (a map of bpf_timer).
                    return self.push(SpecialField {
                        offset: base,
                        size: t.size_or_type,
                        kind: k,
                        kptr_struct: String::new(),
                        target_size: 0,
                        graph: None,
                        kptr_local: None,
                    });
                }
                for (idx, m) in t.members.iter().enumerate() {
                    let bits = if t.kind_flag {
                        m.offset & 0x00ff_ffff
                    } else {
                        m.offset
                    };
                    if bits % 8 != 0 {
                        continue;
                    }
                    let off = u32::try_from(bits / 8).map_err(|_| "member offset".to_string())?;
                    let before = self.fields.len();
                    self.find_member(btf, m.type_id, base + off, depth + 1)?;
                    self.resolve_graph_root(btf, before, id, idx as u32)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A graph root just found as member `comp` of type `owner` (a VAR of
    /// a DATASEC: `u32::MAX`) takes the nodes its `contains:` decl tag
    /// names (`btf_find_graph_root`, `btf_parse_graph_root`): the struct
    /// by name, its member by name, of the root's node type, at a whole
    /// byte offset. A root without the tag, or naming what is not there,
    /// makes the value's BTF unusable, as `BPF_MAP_CREATE` fails.
    fn resolve_graph_root(
        &mut self,
        btf: &Btf,
        before: usize,
        owner: u32,
        comp: u32,
    ) -> Result<(), String> {
        if self.fields.len() != before + 1 {
            return Ok(());
        }
        let Some(f) = self.fields.last().filter(|f| f.graph.is_none()) else {
            return Ok(());
        };
        let node_kind = match f.kind {
            FieldKind::ListHead => "bpf_list_node",
            FieldKind::RbRoot => "bpf_rb_node",
            _ => return Ok(()),
        };
        let root_name = f.kind.name();
        let tag = btf
            .types
            .iter()
            .filter(|t| t.kind == kind::DECL_TAG && t.size_or_type == owner && t.extra[0] == comp)
            .map(|t| btf.str_at(t.name_off))
            .find_map(|v| v.strip_prefix("contains:"))
            .ok_or_else(|| format!("the {root_name} has no contains: decl tag"))?;
        let (value_name, node_name) = tag
            .split_once(':')
            .filter(|(_, n)| !n.is_empty())
            .ok_or_else(|| format!("the {root_name}'s contains:{tag} names no node member"))?;
        let value_id = (1..btf.types.len() as u32)
            .find(|&i| btf.kind_of(i) == kind::STRUCT && btf.name(i) == value_name)
            .ok_or_else(|| {
                format!("the {root_name} contains struct {value_name}, which the BTF does not have")
            })?;
        let vt = btf
            .get(value_id)
            .ok_or_else(|| format!("type id {value_id} does not exist"))?;
        let mut node_offset = None;
        for m in &vt.members {
            if btf.str_at(m.name_off) != node_name {
                continue;
            }
            if node_offset.is_some() {
                return Err(format!("struct {value_name} has two members {node_name}"));
            }
            let nt = btf.skip_mods_and_typedefs(m.type_id).map_err(|e| e.0)?;
            if btf.kind_of(nt) != kind::STRUCT || btf.name(nt) != node_kind {
                return Err(format!(
                    "{value_name}.{node_name} is not a struct {node_kind}"
                ));
            }
            let bits = Btf::member_bit_offset(vt, m);
            if !bits.is_multiple_of(64) {
                return Err(format!("{value_name}.{node_name} is not 8-byte aligned"));
            }
            node_offset = Some(bits / 8);
        }
        let node_offset =
            node_offset.ok_or_else(|| format!("struct {value_name} has no member {node_name}"))?;
        if let Some(f) = self.fields.last_mut() {
            f.graph = Some(GraphRoot {
                value_id,
                value_name: value_name.to_string(),
                node_offset,
            });
        }
        Ok(())
    }

    /// A member of type `id` at byte `off`: a special struct, a kptr, a
    /// nested struct or an array of them.
    fn find_member(&mut self, btf: &Btf, id: u32, off: u32, depth: u32) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("type id {id}: structs nest too deep"));
        }
        // A kptr: PTR -> TYPE_TAG -> struct (a volatile pointer too).
        let mut pid = id;
        if let Some(t) = btf.get(pid) {
            if t.kind == kind::VOLATILE || t.kind == kind::TYPEDEF {
                pid = t.size_or_type;
            }
        }
        if let Some(p) = btf.get(pid).filter(|t| t.kind == kind::PTR) {
            let Some(tag) = btf.get(p.size_or_type).filter(|t| t.kind == kind::TYPE_TAG) else {
                return Ok(());
            };
            let k = match btf.str_at(tag.name_off) {
                "kptr_untrusted" => FieldKind::KptrUnref,
                "kptr" => FieldKind::KptrRef,
                "percpu_kptr" => FieldKind::KptrPercpu,
                "uptr" => FieldKind::Uptr,
                _ => return Ok(()),
            };
            let target = btf
                .skip_mods_and_typedefs(tag.size_or_type)
                .map_err(|e| e.0)?;
            let target_size = btf
                .size_of(target)
                .map_or(0, |s| s.min(u64::from(u32::MAX)) as u32);
            // Looked up in the kernel's BTF first; a struct only the
            // program has is an allocated object's.
            let name = btf.name(target);
            let kptr_local = crate::vmlinux::vmlinux()
                .ok()
                .filter(|v| {
                    v.struct_id(name).is_none()
                        && matches!(btf.kind_of(target), kind::STRUCT | kind::FWD)
                })
                .map(|_| target);
            if kptr_local.is_some() && btf.kind_of(target) == kind::FWD {
                // Linux 6.18 cannot parse such a kptr, and the value then
                // has no special fields at all (measured: its kptrs load
                // as scalars).
                return Err(format!(
                    "the kptr at {off} points to struct {name}, which the BTF only declares"
                ));
            }
            return self.push(SpecialField {
                offset: off,
                size: 8,
                kind: k,
                kptr_struct: name.to_string(),
                target_size,
                graph: None,
                kptr_local,
            });
        }
        let rid = btf.skip_mods_and_typedefs(id).map_err(|e| e.0)?;
        let Some(t) = btf.get(rid) else {
            return Ok(());
        };
        match t.kind {
            kind::STRUCT | kind::UNION => self.find_in(btf, rid, off, depth),
            kind::ARRAY => {
                let (elem, nelems) = (t.extra[0], t.extra[2]);
                let has_fields = {
                    let mut probe = BtfRecord::default();
                    probe.find_member(btf, elem, 0, depth + 1)?;
                    !probe.fields.is_empty()
                };
                if !has_fields {
                    return Ok(());
                }
                let esize = btf.size_of(elem).map_err(|e| e.0)?;
                let esize = u32::try_from(esize).map_err(|_| "array element size".to_string())?;
                for i in 0..nelems {
                    self.find_member(btf, elem, off + i * esize, depth + 1)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl crate::VerifyOptions {
    /// Fills the record of each map (and of each map of maps' inner map)
    /// from the BTF value type it was created with, in the object's BTF
    /// given by [`crate::VerifyOptions::set_btf`] (call that first).
    /// `value_types` and `inner_value_types` run parallel to `maps` and
    /// `inner_maps`; 0 is a map without BTF. A type the record cannot be
    /// read from leaves the map's record empty, with its BTF noted.
    pub fn set_map_value_types(&mut self, value_types: &[u32], inner_value_types: &[u32]) {
        let Some(btf) = self.btf.clone() else {
            return;
        };
        let rec = |id: u32| {
            BtfRecord::parse(&btf, id).unwrap_or(BtfRecord {
                has_btf: id != 0,
                fields: Vec::new(),
            })
        };
        for (m, &id) in self.maps.iter_mut().zip(value_types) {
            m.record = rec(id);
        }
        for (m, &id) in self.inner_maps.iter_mut().zip(inner_value_types) {
            if let Some(m) = m {
                m.record = rec(id);
            }
        }
    }
}
