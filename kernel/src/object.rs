//! A whole ELF object (as `ironbpf-loader` read it) in the kernel: its BTF,
//! its maps created and initialised as libbpf does, and its programs loaded
//! with the map references resolved through `fd_array`.

use ironbpf_loader::{MapDef, Object, Program};

use crate::{load_program, KernelBtf, KernelError, KernelMap, LoadOutcome, MapCreate, ProgLoad};

const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
const BPF_MAP_TYPE_HASH_OF_MAPS: u32 = 13;

/// An object's kernel-side state: keep it alive while its programs run.
#[derive(Debug)]
pub struct KernelObject {
    /// The object's BTF, when the kernel accepted it.
    pub btf: Option<KernelBtf>,
    /// Why the kernel refused the object's BTF (the object is then loaded
    /// without BTF, as libbpf does on old kernels).
    pub btf_error: Option<String>,
    /// The maps, in the loader's order (the order `BPF_PSEUDO_MAP_IDX` refers to).
    pub maps: Vec<(String, KernelMap)>,
    license: String,
    kern_version: u32,
}

fn map_create(def: &MapDef, btf: Option<&KernelBtf>, inner_fd: Option<i32>) -> MapCreate {
    let mut max_entries = def.max_entries;
    if def.map_type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && max_entries == 0 {
        // libbpf sizes a perf event array to the possible CPUs.
        max_entries = crate::possible_cpus() as u32;
    }
    if matches!(
        def.map_type,
        ironbpf_maps::BPF_MAP_TYPE_RINGBUF | ironbpf_maps::BPF_MAP_TYPE_USER_RINGBUF
    ) {
        // libbpf rounds a ring buffer up to a power-of-2 number of pages.
        max_entries = ironbpf_maps::libbpf_ringbuf_size(max_entries);
    }
    MapCreate {
        map_type: def.map_type,
        key_size: def.key_size,
        value_size: def.value_size,
        max_entries,
        map_flags: def.map_flags,
        name: def.name.clone(),
        inner_map_fd: inner_fd,
        btf_fd: btf
            .filter(|_| def.btf_value_type_id != 0)
            .map(|b| b.raw_fd()),
        btf_key_type_id: if btf.is_some() {
            def.btf_key_type_id
        } else {
            0
        },
        btf_value_type_id: if btf.is_some() {
            def.btf_value_type_id
        } else {
            0
        },
        map_extra: 0,
    }
}

/// Creates a map, first with its BTF types and, if the kernel refuses those,
/// without them (as libbpf retries).
fn create_one(def: &MapDef, btf: Option<&KernelBtf>) -> Result<KernelMap, KernelError> {
    let inner = match &def.inner {
        Some(inner) => Some(create_one(inner, btf)?),
        None if matches!(
            def.map_type,
            BPF_MAP_TYPE_ARRAY_OF_MAPS | BPF_MAP_TYPE_HASH_OF_MAPS
        ) =>
        {
            return Err(
                KernelError::new("BPF_MAP_CREATE", libc::EINVAL).with_context(format!(
                    "map {:?}: a map-in-map needs an inner map template",
                    def.name
                )),
            )
        }
        None => None,
    };
    let inner_fd = inner.as_ref().map(|m| m.raw_fd());
    match KernelMap::create(&map_create(def, btf, inner_fd)) {
        Ok(m) => Ok(m),
        Err(_) if btf.is_some() => KernelMap::create(&map_create(def, None, inner_fd)),
        Err(e) => Err(e),
    }
}

impl KernelObject {
    /// Loads the object's BTF and creates and initialises its maps.
    pub fn create(obj: &Object) -> Result<KernelObject, KernelError> {
        let (btf, btf_error) = match &obj.btf {
            Some(bytes) => match KernelBtf::load(bytes) {
                Ok(b) => (Some(b), None),
                Err((e, line)) => (None, Some(format!("{e}: {line}"))),
            },
            None => (None, None),
        };
        let mut maps = Vec::with_capacity(obj.maps.len());
        for def in &obj.maps {
            let map = create_one(def, btf.as_ref())?;
            if let Some(value) = &def.initial_value {
                if !value.is_empty() {
                    map.update(&0u32.to_ne_bytes(), value, 0).map_err(|e| {
                        KernelError::new("BPF_MAP_UPDATE_ELEM", e)
                            .with_context(format!("initial value of {:?}", def.name))
                    })?;
                }
            }
            if def.frozen {
                map.freeze().map_err(|e| {
                    KernelError::new("BPF_MAP_FREEZE", e)
                        .with_context(format!("map {:?}", def.name))
                })?;
            }
            maps.push((def.name.clone(), map));
        }
        Ok(KernelObject {
            btf,
            btf_error,
            maps,
            license: obj.license.clone(),
            kern_version: obj.kern_version.unwrap_or(0),
        })
    }

    pub fn map(&self, name: &str) -> Option<&KernelMap> {
        self.maps.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    /// Loads one of the object's programs at `log_level`.
    pub fn load_program(&self, prog: &Program, log_level: u32) -> LoadOutcome {
        let words: Vec<u64> = prog
            .insns
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8-byte chunk")))
            .collect();
        let fds: Vec<i32> = self.maps.iter().map(|(_, m)| m.raw_fd()).collect();
        let mut func_info = Vec::with_capacity(prog.func_info.len() * 8);
        for f in &prog.func_info {
            func_info.extend_from_slice(&(f.insn as u32).to_ne_bytes());
            func_info.extend_from_slice(&f.type_id.to_ne_bytes());
        }
        let mut line_info = Vec::with_capacity(prog.line_info.len() * 16);
        for l in &prog.line_info {
            line_info.extend_from_slice(&(l.insn as u32).to_ne_bytes());
            line_info.extend_from_slice(&l.file_name_off.to_ne_bytes());
            line_info.extend_from_slice(&l.line_off.to_ne_bytes());
            line_info.extend_from_slice(&l.line_col.to_ne_bytes());
        }
        let license = if self.license.is_empty() {
            "GPL"
        } else {
            self.license.as_str()
        };
        load_program(&ProgLoad {
            prog_type: prog.prog_type,
            expected_attach_type: prog.expected_attach_type,
            insns: &words,
            license,
            name: &prog.name,
            log_level,
            kern_version: self.kern_version,
            prog_btf_fd: self.btf.as_ref().map(|b| b.raw_fd()),
            func_info: &func_info,
            line_info: &line_info,
            attach_btf_id: prog.attach_btf_id.unwrap_or(0),
            prog_flags: crate::prog_flags_for_section(&prog.section),
            fd_array: &fds,
            ..Default::default()
        })
    }
}
