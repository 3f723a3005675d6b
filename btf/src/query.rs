//! Type queries the verifier asks of a BTF blob (usually the running
//! kernel's vmlinux BTF): member offsets and bitfields, sizes resolved
//! through arrays and modifiers as the kernel's `__btf_resolve_size` does,
//! kind names as `btf_type_str` prints them, and a name index.

use crate::{kind, Btf, BtfError, BtfType, Member};
use std::collections::HashMap;

/// The kernel's `MAX_RESOLVE_DEPTH`.
const MAX_DEPTH: usize = 32;

/// The kernel's `btf_type_str`: the upper-case kind name (`STRUCT`, `PTR`,
/// `UNKNOWN` for void, as the kernel's `btf_kind_str` names kind 0).
pub fn kind_str(k: u32) -> &'static str {
    match k {
        kind::INT => "INT",
        kind::PTR => "PTR",
        kind::ARRAY => "ARRAY",
        kind::STRUCT => "STRUCT",
        kind::UNION => "UNION",
        kind::ENUM => "ENUM",
        kind::FWD => "FWD",
        kind::TYPEDEF => "TYPEDEF",
        kind::VOLATILE => "VOLATILE",
        kind::CONST => "CONST",
        kind::RESTRICT => "RESTRICT",
        kind::FUNC => "FUNC",
        kind::FUNC_PROTO => "FUNC_PROTO",
        kind::VAR => "VAR",
        kind::DATASEC => "DATASEC",
        kind::FLOAT => "FLOAT",
        kind::DECL_TAG => "DECL_TAG",
        kind::TYPE_TAG => "TYPE_TAG",
        kind::ENUM64 => "ENUM64",
        _ => "UNKNOWN",
    }
}

/// A type whose size the kernel resolved (`__btf_resolve_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The first array met, or else the type under the modifiers.
    pub type_id: u32,
    /// The whole size in bytes (all elements of nested arrays).
    pub size: u32,
    /// The element type under the arrays and modifiers.
    pub elem_id: u32,
    /// The element type id as the innermost array names it (0 without an
    /// array).
    pub array_elem_id: u32,
    /// Elements of the arrays, multiplied (1 without an array).
    pub nelems: u32,
    /// The last id a modifier pointed to (0 if there was none).
    pub last_mod_target: u32,
}

/// Name index of a BTF blob: the ids of the types with each name.
#[derive(Debug, Clone, Default)]
pub struct NameIndex {
    by_name: HashMap<String, Vec<u32>>,
}

impl NameIndex {
    /// Indexes every named type of `btf`.
    pub fn new(btf: &Btf) -> NameIndex {
        let by_name = btf
            .ids_by_name()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        NameIndex { by_name }
    }

    /// The ids of the types named `name`, in id order.
    pub fn ids(&self, name: &str) -> &[u32] {
        self.by_name.get(name).map_or(&[], |v| v.as_slice())
    }

    /// The first type named `name` of kind `k` (`btf_find_by_name_kind`).
    pub fn find(&self, btf: &Btf, name: &str, k: u32) -> Option<u32> {
        self.ids(name)
            .iter()
            .copied()
            .find(|&id| btf.get(id).is_some_and(|t| t.kind == k))
    }
}

// The verifier's queries live in their own impl block, apart from the
// parsing code and the accessors others add to lib.rs.
impl Btf {
    /// The type with this id, or an error naming it.
    pub fn type_by_id(&self, id: u32) -> Result<&BtfType, BtfError> {
        self.get(id)
            .ok_or_else(|| BtfError(format!("type id {id} does not exist")))
    }

    /// Kind of type `id` (0 for void or a missing id).
    pub fn kind_of(&self, id: u32) -> u32 {
        self.get(id).map_or(0, |t| t.kind)
    }

    /// `btf_type_is_modifier`: TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG.
    pub fn is_modifier(&self, id: u32) -> bool {
        matches!(
            self.kind_of(id),
            kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG
        )
    }

    /// `btf_type_is_struct`: STRUCT or UNION.
    pub fn is_struct(&self, id: u32) -> bool {
        matches!(self.kind_of(id), kind::STRUCT | kind::UNION)
    }

    /// `btf_type_is_small_int`: an INT of at most 8 bytes.
    pub fn is_small_int(&self, id: u32) -> bool {
        self.get(id)
            .is_some_and(|t| t.kind == kind::INT && t.size_or_type <= 8)
    }

    /// `btf_is_any_enum`: ENUM or ENUM64.
    pub fn is_any_enum(&self, id: u32) -> bool {
        matches!(self.kind_of(id), kind::ENUM | kind::ENUM64)
    }

    /// A member's offset in bits (`__btf_member_bit_offset`).
    pub fn member_bit_offset(t: &BtfType, m: &Member) -> u32 {
        if t.kind_flag {
            (m.offset & 0x00ff_ffff) as u32
        } else {
            m.offset as u32
        }
    }

    /// A member's bitfield width, 0 for a whole member
    /// (`__btf_member_bitfield_size`).
    pub fn member_bitfield_size(t: &BtfType, m: &Member) -> u32 {
        if t.kind_flag {
            ((m.offset >> 24) & 0xff) as u32
        } else {
            0
        }
    }

    /// The kernel's `__btf_resolve_size`: through modifiers and arrays to a
    /// type with a size.
    pub fn resolve_size(&self, id: u32) -> Result<Resolved, BtfError> {
        let mut cur = id;
        let mut first_array: Option<u32> = None;
        let mut array_elem_id = 0;
        let mut nelems: u32 = 1;
        let mut last_mod_target = 0;
        for _ in 0..MAX_DEPTH {
            let t = self.type_by_id(cur)?;
            let size = match t.kind {
                kind::INT
                | kind::STRUCT
                | kind::UNION
                | kind::ENUM
                | kind::FLOAT
                | kind::ENUM64 => t.size_or_type,
                kind::PTR => 8,
                kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                    last_mod_target = t.size_or_type;
                    cur = t.size_or_type;
                    continue;
                }
                kind::ARRAY => {
                    first_array.get_or_insert(cur);
                    let n = t.extra[2];
                    nelems = nelems.checked_mul(n).ok_or_else(|| {
                        BtfError(format!("type [{cur}]: array elements overflow u32"))
                    })?;
                    array_elem_id = t.extra[0];
                    cur = t.extra[0];
                    continue;
                }
                k => {
                    return Err(BtfError(format!(
                        "type [{cur}] ({}) has no size",
                        kind_str(k)
                    )))
                }
            };
            let total = size
                .checked_mul(nelems)
                .ok_or_else(|| BtfError(format!("type [{id}]: size overflows u32")))?;
            return Ok(Resolved {
                type_id: first_array.unwrap_or(cur),
                size: total,
                elem_id: cur,
                array_elem_id: if first_array.is_some() {
                    array_elem_id
                } else {
                    0
                },
                nelems,
                last_mod_target,
            });
        }
        Err(BtfError(format!(
            "type id {id}: type chain longer than {MAX_DEPTH}"
        )))
    }

    /// The FUNC_PROTO of a FUNC, or of a `btf_trace_*` TYPEDEF (a pointer
    /// to a FUNC_PROTO), or `id` itself if it is a FUNC_PROTO.
    pub fn func_proto_of(&self, id: u32) -> Result<u32, BtfError> {
        let t = self.type_by_id(id)?;
        match t.kind {
            kind::FUNC_PROTO => Ok(id),
            kind::FUNC => {
                let p = t.size_or_type;
                if self.kind_of(p) == kind::FUNC_PROTO {
                    Ok(p)
                } else {
                    Err(BtfError(format!("FUNC [{id}] has no FUNC_PROTO")))
                }
            }
            kind::TYPEDEF => {
                let p = self.skip_mods_and_typedefs(t.size_or_type)?;
                let pt = self.type_by_id(p)?;
                if pt.kind == kind::PTR && self.kind_of(pt.size_or_type) == kind::FUNC_PROTO {
                    Ok(pt.size_or_type)
                } else {
                    Err(BtfError(format!(
                        "TYPEDEF [{id}] is not a pointer to a FUNC_PROTO"
                    )))
                }
            }
            k => Err(BtfError(format!(
                "type [{id}] is a {} (expected FUNC, FUNC_PROTO or a btf_trace typedef)",
                kind_str(k)
            ))),
        }
    }

    /// A member of struct/union `id` by name (no descent into anonymous
    /// members): its index and bit offset.
    pub fn member_by_name(&self, id: u32, name: &str) -> Option<(usize, u32, &Member)> {
        let sid = self.skip_mods_and_typedefs(id).ok()?;
        let t = self.get(sid)?;
        if !matches!(t.kind, kind::STRUCT | kind::UNION) {
            return None;
        }
        t.members
            .iter()
            .enumerate()
            .find(|(_, m)| self.str_at(m.name_off) == name)
            .map(|(i, m)| (i, Self::member_bit_offset(t, m), m))
    }
}
