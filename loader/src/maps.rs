//! Map definitions: legacy `maps` sections, BTF-defined `.maps`, and global data sections.

use std::collections::HashMap;

use object::elf;

use crate::btf::{kind, Btf};
use crate::elf::{Elf, Section};
use crate::{LoadError, MapDef, MapKind};

/// `BPF_F_RDONLY_PROG`.
pub(crate) const BPF_F_RDONLY_PROG: u32 = 1 << 7;
pub(crate) const BPF_MAP_TYPE_ARRAY: u32 = 2;
/// Largest global-data section accepted (the kernel caps array values far below this).
const MAX_DATA_SECTION: u32 = 1 << 27;
const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
const BPF_MAP_TYPE_HASH_OF_MAPS: u32 = 13;

/// What a symbol or section refers to, for relocations.
#[derive(Debug, Default)]
pub(crate) struct MapIndex {
    /// (section index, offset of the definition) -> map index, for legacy and BTF maps.
    pub by_def: HashMap<(usize, u64), usize>,
    /// Section index -> global-data map index.
    pub by_data_section: HashMap<usize, usize>,
    /// Indices of the sections that hold map definitions.
    pub def_sections: Vec<usize>,
}

/// Is this a legacy map-definition section?
pub(crate) fn is_legacy_maps(s: &Section) -> bool {
    (s.name == "maps" || s.name.starts_with("maps/")) && s.sh_type == elf::SHT_PROGBITS
}

/// Is this a global-data section (`.data`, `.data.*`, `.rodata`, `.rodata.*`, `.bss`, `.bss.*`)?
pub(crate) fn is_data_section(s: &Section) -> bool {
    let n = s.name.as_str();
    let named = [".data", ".rodata", ".bss"]
        .iter()
        .any(|p| n == *p || n.strip_prefix(p).is_some_and(|r| r.starts_with('.')));
    named
        && (s.sh_type == elf::SHT_PROGBITS || s.sh_type == elf::SHT_NOBITS)
        && s.flags & u64::from(elf::SHF_ALLOC) != 0
}

fn is_rodata(name: &str) -> bool {
    name == ".rodata" || name.starts_with(".rodata.")
}

/// Map types the kernel refuses BTF key/value ids for (libbpf clears them too).
fn takes_no_btf(map_type: u32) -> bool {
    matches!(
        map_type,
        3 | 4 | 7 | 8 | 12 | 13 | 14 | 15 | 16 | 17 | 18 | 22 | 23 | 25 | 27 | 31
    )
}

fn map_err(section: &str, map: &str, msg: impl Into<String>) -> LoadError {
    LoadError::Map {
        section: section.to_string(),
        map: map.to_string(),
        msg: msg.into(),
    }
}

fn le32(b: &[u8], i: usize) -> u32 {
    match b.get(4 * i..4 * i + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Collects every map of the object in libbpf's order.
pub(crate) fn collect(elf: &Elf, btf: Option<&Btf>) -> Result<(Vec<MapDef>, MapIndex), LoadError> {
    let mut maps = Vec::new();
    let mut index = MapIndex::default();
    let mut inner_refs = Vec::new();
    for s in elf.sections.iter().filter(|s| is_legacy_maps(s)) {
        index.def_sections.push(s.index);
        legacy(elf, s, &mut maps, &mut index, &mut inner_refs)?;
    }
    resolve_legacy_inner(&mut maps, &inner_refs)?;
    if let Some(s) = elf.section_by_name(".maps") {
        index.def_sections.push(s.index);
        let Some(btf) = btf else {
            return Err(LoadError::Section {
                section: ".maps".into(),
                msg: "BTF-defined maps need a .BTF section, and the object has none".into(),
            });
        };
        btf_maps(elf, s, btf, &mut maps, &mut index)?;
    }
    for s in elf.sections.iter().filter(|s| is_data_section(s)) {
        if s.size == 0 {
            continue;
        }
        let Some(size) = u32::try_from(s.size)
            .ok()
            .filter(|&z| z <= MAX_DATA_SECTION)
        else {
            return Err(LoadError::Section {
                section: s.name.clone(),
                msg: format!(
                    "size {:#x} is too large for a global-data map (limit {MAX_DATA_SECTION:#x})",
                    s.size
                ),
            });
        };
        let value = if s.sh_type == elf::SHT_NOBITS {
            vec![0u8; s.size as usize]
        } else {
            s.data.clone()
        };
        let datasec = btf
            .and_then(|b| {
                b.types
                    .iter()
                    .position(|t| t.kind == kind::DATASEC && b.str_at(t.name_off) == s.name)
            })
            .unwrap_or(0) as u32;
        let ro = is_rodata(&s.name);
        index.by_data_section.insert(s.index, maps.len());
        maps.push(MapDef {
            name: s.name.clone(),
            map_type: BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size: size,
            max_entries: 1,
            map_flags: if ro { BPF_F_RDONLY_PROG } else { 0 },
            pinning: 0,
            numa_node: 0,
            inner: None,
            init_slots: Vec::new(),
            initial_value: Some(value),
            frozen: ro,
            kind: MapKind::GlobalData(s.name.clone()),
            btf_key_type_id: 0,
            btf_value_type_id: datasec,
        });
    }
    Ok((maps, index))
}

/// A legacy map-in-map waiting for its inner template: (section, outer map index, reference).
type InnerRef = (String, usize, InnerBy);

enum InnerBy {
    /// iproute2: the `id` field of another map of the same section.
    Id(u32, Vec<(u32, usize)>),
    /// samples/bpf: `inner_map_idx`, the ordinal of the inner map among all legacy maps.
    Idx(usize),
}

fn resolve_legacy_inner(maps: &mut [MapDef], refs: &[InnerRef]) -> Result<(), LoadError> {
    for (sec, m, by) in refs {
        let target = match by {
            InnerBy::Id(id, ids) => ids
                .iter()
                .find(|(i, _)| i == id && *id != 0)
                .map(|(_, x)| *x),
            InnerBy::Idx(ix) => (*ix < maps.len()).then_some(*ix),
        };
        let inner = target.filter(|t| t != m).and_then(|t| maps.get(t)).cloned();
        match (inner, maps.get_mut(*m)) {
            (Some(inner), Some(outer)) => outer.inner = Some(Box::new(inner)),
            (_, outer) => {
                return Err(map_err(
                    sec,
                    outer.map_or("?", |o| &o.name),
                    "map-in-map definition names no valid inner map (inner_map_idx / inner_id)",
                ))
            }
        }
    }
    Ok(())
}

fn legacy(
    elf: &Elf,
    s: &Section,
    maps: &mut Vec<MapDef>,
    index: &mut MapIndex,
    inner_refs: &mut Vec<InnerRef>,
) -> Result<(), LoadError> {
    let mut syms: Vec<&crate::elf::Symbol> = elf
        .symbols
        .iter()
        .filter(|y| {
            y.shndx == s.index
                && !y.is_section()
                && y.st_type != elf::STT_FILE
                && !y.name.is_empty()
        })
        .collect();
    if syms.is_empty() {
        if s.size == 0 {
            return Ok(());
        }
        return Err(LoadError::Section {
            section: s.name.clone(),
            msg: format!("{} bytes of map definitions but no map symbols", s.size),
        });
    }
    syms.sort_by_key(|y| y.value);
    let n = syms.len() as u64;
    if !s.size.is_multiple_of(n) {
        return Err(LoadError::Section {
            section: s.name.clone(),
            msg: format!(
                "size {} is not a multiple of the number of map symbols ({n}): cannot infer the bpf_map_def record size",
                s.size
            ),
        });
    }
    let rec = (s.size / n) as usize;
    if rec < 16 {
        return Err(LoadError::Section {
            section: s.name.clone(),
            msg: format!("bpf_map_def record size {rec} is smaller than the 16 bytes of type, key_size, value_size and max_entries"),
        });
    }
    // iproute2's struct bpf_elf_map is 36 bytes: type, size_key, size_value, max_elem, flags,
    // id, pinning, inner_id, inner_idx. Otherwise samples/bpf's struct bpf_map_def: type,
    // key_size, value_size, max_entries, map_flags, inner_map_idx, numa_node.
    let iproute2 = rec == 36;
    let mut ids = Vec::new();
    let mut pending = Vec::new();
    for y in &syms {
        let off = y.value as usize;
        let Some(b) = off.checked_add(rec).and_then(|e| s.data.get(off..e)) else {
            return Err(map_err(
                &s.name,
                &y.name,
                format!(
                    "definition at offset {off:#x} ({rec} bytes) goes past the end of the section ({} bytes)",
                    s.data.len()
                ),
            ));
        };
        let mut def = MapDef {
            name: y.name.clone(),
            map_type: le32(b, 0),
            key_size: le32(b, 1),
            value_size: le32(b, 2),
            max_entries: le32(b, 3),
            map_flags: le32(b, 4),
            pinning: 0,
            numa_node: 0,
            inner: None,
            init_slots: Vec::new(),
            initial_value: None,
            frozen: false,
            kind: MapKind::Legacy,
            btf_key_type_id: 0,
            btf_value_type_id: 0,
        };
        let of_maps = matches!(
            def.map_type,
            BPF_MAP_TYPE_ARRAY_OF_MAPS | BPF_MAP_TYPE_HASH_OF_MAPS
        );
        if iproute2 {
            def.pinning = le32(b, 6);
            ids.push((le32(b, 5), maps.len()));
            if of_maps {
                pending.push((maps.len(), le32(b, 7)));
            }
        } else {
            def.numa_node = le32(b, 6);
            if of_maps && rec >= 24 {
                inner_refs.push((
                    s.name.clone(),
                    maps.len(),
                    InnerBy::Idx(le32(b, 5) as usize),
                ));
            }
        }
        if of_maps && def.value_size == 0 {
            // samples/bpf created these with bpf_create_map_in_map(): the value is an inner map fd
            def.value_size = 4;
        }
        index.by_def.insert((s.index, y.value), maps.len());
        maps.push(def);
    }
    for (m, id) in pending {
        inner_refs.push((s.name.clone(), m, InnerBy::Id(id, ids.clone())));
    }
    Ok(())
}

fn btf_maps(
    elf: &Elf,
    s: &Section,
    btf: &Btf,
    maps: &mut Vec<MapDef>,
    index: &mut MapIndex,
) -> Result<(), LoadError> {
    let Some(ds) = btf
        .types
        .iter()
        .find(|t| t.kind == kind::DATASEC && btf.str_at(t.name_off) == ".maps")
    else {
        return Err(LoadError::Section {
            section: ".maps".into(),
            msg: "BTF has no DATASEC named .maps".into(),
        });
    };
    for vs in &ds.secinfo {
        let Some(var) = btf.get(vs.type_id).filter(|t| t.kind == kind::VAR) else {
            return Err(LoadError::Section {
                section: ".maps".into(),
                msg: format!("DATASEC entry type [{}] is not a VAR", vs.type_id),
            });
        };
        let name = btf.str_at(var.name_off).to_string();
        let sym = elf
            .symbols
            .iter()
            .find(|y| y.shndx == s.index && y.name == name && !y.is_section());
        let Some(sym) = sym else {
            return Err(map_err(
                ".maps",
                &name,
                "no ELF symbol in section .maps has this name",
            ));
        };
        let (mut def, values_off) = parse_btf_def(btf, var.size_or_type, &name, 0)?;
        if let Some(voff) = values_off {
            let start = sym.value.saturating_add(voff);
            let end = sym.value.saturating_add(sym.size.max(voff));
            for r in s
                .rels
                .iter()
                .filter(|r| r.offset >= start && r.offset < end)
            {
                let slot = (r.offset - start) / 8;
                let target = elf.symbols.get(r.sym).map_or("", |y| y.name.as_str());
                if (r.offset - start) % 8 != 0 || slot >= u64::from(def.max_entries.max(1)) {
                    return Err(map_err(
                        ".maps",
                        &name,
                        format!(
                            "initial value relocation at offset {:#x} is not a slot of values[]",
                            r.offset
                        ),
                    ));
                }
                def.init_slots.push((slot as u32, target.to_string()));
            }
        }
        index.by_def.insert((s.index, sym.value), maps.len());
        maps.push(def);
    }
    Ok(())
}

fn ptr_array_len(btf: &Btf, id: u32) -> Option<u32> {
    let p = btf.skip_mods_and_typedefs(id).ok()?;
    let pt = btf.get(p).filter(|t| t.kind == kind::PTR)?;
    let a = btf.skip_mods_and_typedefs(pt.size_or_type).ok()?;
    btf.get(a)
        .filter(|t| t.kind == kind::ARRAY)
        .map(|t| t.extra[2])
}

/// Parses a BTF map definition; also returns the byte offset of its `values` member.
fn parse_btf_def(
    btf: &Btf,
    type_id: u32,
    name: &str,
    depth: u32,
) -> Result<(MapDef, Option<u64>), LoadError> {
    let e = |msg: String| map_err(".maps", name, msg);
    let sid = btf.skip_mods_and_typedefs(type_id).map_err(|x| e(x.0))?;
    let st = btf
        .get(sid)
        .filter(|t| t.kind == kind::STRUCT)
        .ok_or_else(|| e(format!("definition type [{sid}] is not a struct")))?;
    let mut def = MapDef {
        name: name.to_string(),
        map_type: 0,
        key_size: 0,
        value_size: 0,
        max_entries: 0,
        map_flags: 0,
        pinning: 0,
        numa_node: 0,
        inner: None,
        init_slots: Vec::new(),
        initial_value: None,
        frozen: false,
        kind: MapKind::Btf,
        btf_key_type_id: 0,
        btf_value_type_id: 0,
    };
    let mut key_sz = None;
    let mut val_sz = None;
    let mut values_inner = None;
    for m in &st.members {
        let mname = btf.str_at(m.name_off);
        let int = || {
            ptr_array_len(btf, m.type_id).ok_or_else(|| {
                e(format!(
                    "field {mname} is not encoded as __uint() (pointer to array)"
                ))
            })
        };
        match mname {
            "type" => def.map_type = int()?,
            "max_entries" => def.max_entries = int()?,
            "map_flags" => def.map_flags = int()?,
            "numa_node" => def.numa_node = int()?,
            "pinning" => def.pinning = int()?,
            "key_size" => key_sz = Some(int()?),
            "value_size" => val_sz = Some(int()?),
            "map_extra" => {}
            "key" | "value" => {
                let p = btf.skip_mods_and_typedefs(m.type_id).map_err(|x| e(x.0))?;
                let pt = btf
                    .get(p)
                    .filter(|t| t.kind == kind::PTR)
                    .ok_or_else(|| e(format!("field {mname} is not a pointer (__type())")))?;
                let sz = btf
                    .size_of(pt.size_or_type)
                    .map_err(|x| e(format!("field {mname}: {}", x.0)))?;
                let sz = u32::try_from(sz)
                    .map_err(|_| e(format!("field {mname}: size {sz} too large")))?;
                if mname == "key" {
                    def.key_size = sz;
                    def.btf_key_type_id = pt.size_or_type;
                } else {
                    def.value_size = sz;
                    def.btf_value_type_id = pt.size_or_type;
                }
            }
            "values" => {
                let a = btf.skip_mods_and_typedefs(m.type_id).map_err(|x| e(x.0))?;
                let at = btf
                    .get(a)
                    .filter(|t| t.kind == kind::ARRAY)
                    .ok_or_else(|| e("field values is not an array".into()))?;
                let p = btf
                    .skip_mods_and_typedefs(at.extra[0])
                    .map_err(|x| e(x.0))?;
                let pt = btf
                    .get(p)
                    .filter(|t| t.kind == kind::PTR)
                    .ok_or_else(|| e("field values is not an array of pointers".into()))?;
                values_inner = Some((pt.size_or_type, m.offset / 8));
            }
            _ => {}
        }
    }
    if let Some(k) = key_sz {
        if def.btf_key_type_id != 0 && def.key_size != k {
            return Err(e(format!(
                "key_size {k} disagrees with the size of key ({})",
                def.key_size
            )));
        }
        def.key_size = k;
    }
    if let Some(v) = val_sz {
        if def.btf_value_type_id != 0 && def.value_size != v {
            return Err(e(format!(
                "value_size {v} disagrees with the size of value ({})",
                def.value_size
            )));
        }
        def.value_size = v;
    }
    let mut values_off = None;
    if let Some((inner_ty, off)) = values_inner {
        values_off = Some(off);
        if matches!(
            def.map_type,
            BPF_MAP_TYPE_ARRAY_OF_MAPS | BPF_MAP_TYPE_HASH_OF_MAPS
        ) {
            if depth > 0 {
                return Err(e("map-in-map nested more than one level".into()));
            }
            let (inner, _) = parse_btf_def(btf, inner_ty, &format!("{name}.inner"), depth + 1)?;
            def.inner = Some(Box::new(inner));
        }
        def.value_size = 4;
        def.btf_value_type_id = 0;
    }
    // Ring buffers take no key or value: definitions that name a value type (for code
    // generators, as cilium/ebpf's examples do) would make the kernel refuse the map.
    if matches!(def.map_type, 27 | 31) {
        def.key_size = 0;
        def.value_size = 0;
    }
    if takes_no_btf(def.map_type) {
        def.btf_key_type_id = 0;
        def.btf_value_type_id = 0;
    }
    Ok((def, values_off))
}
