//! A loaded ELF object in ironbpf's runtime: its maps created in a
//! [`MapSet`] (initial values written, `.rodata` frozen), its map references
//! resolved, and ironbpf's helper table (the map helpers reaching these
//! maps), so that its programs run as they would in the kernel.
//!
//! A map the runtime cannot create (a kernel map kind ironbpf lacks, such as
//! `struct_ops` or `arena`) does not spoil the object: it keeps its index
//! and is recorded as unavailable, and only a program that refers to it is
//! refused, with the map's name and why it is missing.
//!
//! ```no_run
//! use ironbpf_vm::object::LoadedObject;
//! use ironbpf_vm::{HelperRegistry, Options};
//! let obj = ironbpf_loader::load_file("prog.o".as_ref(), &Default::default()).unwrap();
//! let loaded = LoadedObject::new(obj, &HelperRegistry::new()).unwrap();
//! let (vm, prog_type) = loaded.interpreter("xdp_prog", Options::default()).unwrap();
//! ```

use crate::{HelperRegistry, Interpreter, LdImm64Resolver, Options, ProgType, VmError};
use ironbpf_helpers::HelperEnv;
use ironbpf_isa::abi::{MemoryRegion, RegionResolver};
use ironbpf_isa::{LdImm64Src, Program};
use ironbpf_loader::{MapDef, Object};
use ironbpf_maps::{Guard, Map, MapError, MapSet, MapSpec};
use ironbpf_maps::{BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_USER_RINGBUF};
use std::any::Any;
use std::ptr::NonNull;
use std::sync::Arc;

const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;

/// An object whose maps live in ironbpf's runtime.
pub struct LoadedObject {
    pub object: Object,
    /// The object's maps, with ids in the loader's order (the index that
    /// `BPF_PSEUDO_MAP_IDX` carries).
    pub maps: Arc<MapSet>,
    /// What the helpers see of the host and leave for it (the trace log of
    /// `bpf_trace_printk`, the current task's identity).
    pub env: Arc<HelperEnv>,
    helpers: HelperRegistry,
    /// The maps the runtime could not create, by index, with why: the
    /// programs that refer to one of them are refused.
    unavailable: Vec<(usize, String)>,
}

/// `EOPNOTSUPP`, the errno of every operation on an [`Unavailable`] map.
const EOPNOTSUPP: i32 = 95;

/// The slot of a map that the runtime could not create: it keeps the map's
/// index (so that the other maps' `BPF_PSEUDO_MAP_IDX` references stay
/// right) and fails every operation with the reason it is missing.
struct Unavailable {
    spec: MapSpec,
    possible_cpus: usize,
    why: String,
}

impl Unavailable {
    fn err(&self) -> MapError {
        MapError::new(
            EOPNOTSUPP,
            format!(
                "map {:?} could not be created: {}",
                self.spec.name, self.why
            ),
        )
    }
}

impl Map for Unavailable {
    fn spec(&self) -> &MapSpec {
        &self.spec
    }
    fn possible_cpus(&self) -> usize {
        self.possible_cpus
    }
    fn lookup(&self, _key: &[u8], _value_out: &mut [u8], _flags: u64) -> Result<(), MapError> {
        Err(self.err())
    }
    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(self.err())
    }
    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(self.err())
    }
    fn get_next_key(&self, _key: Option<&[u8]>, _next_out: &mut [u8]) -> Result<(), MapError> {
        Err(self.err())
    }
    fn freeze(&self) -> Result<(), MapError> {
        Err(self.err())
    }
    fn is_frozen(&self) -> bool {
        false
    }
    fn lookup_ptr(&self, _key: &[u8], _cpu: usize, _guard: &Guard) -> Option<NonNull<u8>> {
        None
    }
    fn value_region(&self, _addr: u64, _len: u64) -> Option<MemoryRegion> {
        None
    }
    fn len(&self) -> usize {
        0
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `src_reg` of an `ld_imm64` whose imm is a map index.
const BPF_PSEUDO_MAP_IDX: u8 = ironbpf_loader::BPF_PSEUDO_MAP_IDX;
/// `src_reg` of an `ld_imm64` whose imm is a map index and whose second imm
/// is a value offset.
const BPF_PSEUDO_MAP_IDX_VALUE: u8 = ironbpf_loader::BPF_PSEUDO_MAP_IDX_VALUE;

/// The map indices that the linked instructions `insns` refer to, in order
/// of first use.
fn map_indices(insns: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&[code, regs, _, _, i0, i1, i2, i3]) = insns
        .get(i..i + 8)
        .and_then(|s| <&[u8; 8]>::try_from(s).ok())
    {
        // ld_imm64: opcode 0x18, two slots.
        if code == 0x18 {
            let src = regs >> 4;
            if src == BPF_PSEUDO_MAP_IDX || src == BPF_PSEUDO_MAP_IDX_VALUE {
                let imm = i32::from_le_bytes([i0, i1, i2, i3]);
                if let Ok(idx) = usize::try_from(imm) {
                    if !out.contains(&idx) {
                        out.push(idx);
                    }
                }
            }
            i += 16;
        } else {
            i += 8;
        }
    }
    out
}

/// The `BPF_MAP_CREATE` attributes of a loader map.
pub fn map_spec(def: &MapDef, possible_cpus: usize) -> MapSpec {
    let mut spec = MapSpec::new(def.map_type, def.key_size, def.value_size, def.max_entries);
    if def.map_type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && def.max_entries == 0 {
        // libbpf sizes a perf event array to the possible CPUs.
        spec.max_entries = possible_cpus as u32;
    }
    if matches!(
        def.map_type,
        BPF_MAP_TYPE_RINGBUF | BPF_MAP_TYPE_USER_RINGBUF
    ) {
        // libbpf rounds a ring buffer up to a power-of-2 number of pages.
        spec.max_entries = ironbpf_maps::libbpf_ringbuf_size(def.max_entries);
    }
    spec.map_flags = def.map_flags;
    spec.name = def
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(15)
        .collect();
    spec.inner = def
        .inner
        .as_ref()
        .map(|i| Box::new(map_spec(i, possible_cpus)));
    spec
}

impl LoadedObject {
    /// Creates the object's maps. Programs get ironbpf's helper table
    /// ([`HelperRegistry::standard`]), with `base`'s helpers registered over
    /// it.
    pub fn new(object: Object, base: &HelperRegistry) -> Result<LoadedObject, VmError> {
        let maps = Arc::new(MapSet::new());
        let mut unavailable = Vec::new();
        for (i, def) in object.maps.iter().enumerate() {
            let spec = map_spec(def, maps.possible_cpus());
            let map = match maps.create(&spec) {
                Ok((_, map)) => map,
                Err(e) => {
                    // Only the programs that use it are refused.
                    let why = e.to_string();
                    maps.insert(Arc::new(Unavailable {
                        spec,
                        possible_cpus: maps.possible_cpus(),
                        why: why.clone(),
                    }))
                    .map_err(|e| VmError::Setup(format!("map {:?}: {e}", def.name)))?;
                    unavailable.push((i, why));
                    continue;
                }
            };
            if let Some(value) = def.initial_value.as_ref().filter(|v| !v.is_empty()) {
                map.update(&0u32.to_ne_bytes(), value, 0).map_err(|e| {
                    VmError::Setup(format!("initial value of map {:?}: {e}", def.name))
                })?;
            }
            if def.frozen {
                map.freeze()
                    .map_err(|e| VmError::Setup(format!("map {:?}: {e}", def.name)))?;
            }
        }
        let env = Arc::new(HelperEnv::host());
        let mut helpers = HelperRegistry::standard_with(env.clone());
        // The embedder's helpers go on top of the standard table, so that
        // it can replace any of them.
        helpers.extend_from(base);
        Ok(LoadedObject {
            object,
            maps,
            env,
            helpers,
            unavailable,
        })
    }

    /// The maps the runtime could not create (a kernel map kind ironbpf
    /// lacks), by name, with why. The object's other programs run.
    pub fn unavailable_maps(&self) -> Vec<(&str, &str)> {
        self.unavailable
            .iter()
            .filter_map(|(i, why)| {
                let def = self.object.maps.get(*i)?;
                Some((def.name.as_str(), why.as_str()))
            })
            .collect()
    }

    /// Refuses program `prog` if it refers to a map the runtime could not
    /// create, naming the program and the map.
    pub fn check_maps_of(&self, prog: &ironbpf_loader::Program) -> Result<(), VmError> {
        if self.unavailable.is_empty() {
            return Ok(());
        }
        for idx in map_indices(&prog.insns) {
            if let Some((_, why)) = self.unavailable.iter().find(|(i, _)| *i == idx) {
                let name = self.object.maps.get(idx).map_or("?", |m| m.name.as_str());
                return Err(VmError::Setup(format!(
                    "program {} uses map {name:?}, which ironbpf's runtime cannot create: {why}",
                    prog.name
                )));
            }
        }
        Ok(())
    }

    /// The map named `name` (a symbol, or `.data`/`.rodata`/`.bss`...).
    pub fn map(&self, name: &str) -> Option<Arc<dyn Map>> {
        let i = self.object.maps.iter().position(|m| m.name == name)?;
        self.maps.get(i as u32)
    }

    /// The helpers programs of this object call.
    pub fn helpers(&self) -> &HelperRegistry {
        &self.helpers
    }

    /// The helpers a program of type `pt` may call, as the kernel offers
    /// them to that type (all of them for an unknown type).
    pub fn helpers_for(&self, pt: Option<&ProgType>) -> HelperRegistry {
        match pt {
            Some(p) => self.helpers.for_prog_type(p.kernel_id()),
            None => self.helpers.clone(),
        }
    }

    /// Map values, for a run's memory checks.
    pub fn resolver(&self) -> &dyn RegionResolver {
        self.maps.as_ref()
    }

    /// The interpreter for program `name`, and its program type when ironbpf
    /// knows it.
    pub fn interpreter(
        &self,
        name: &str,
        options: Options,
    ) -> Result<(Interpreter, Option<&'static ProgType>), VmError> {
        let prog = self
            .object
            .programs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| VmError::Setup(format!("the object has no program {name:?}")))?;
        self.check_maps_of(prog)?;
        let program = Program::from_bytes(&prog.insns).map_err(VmError::Invalid)?;
        let pt = crate::progtype::by_kernel_id(prog.prog_type);
        let vm = Interpreter::with_resolver(&program, &self.helpers_for(pt), options, Some(self))?;
        Ok((vm, pt))
    }
}

impl LoadedObject {
    /// Program `name` on an engine: the interpreter, or (`jit`) the JIT in
    /// checked mode; and its program type when ironbpf knows it.
    pub fn engine(
        &self,
        name: &str,
        options: Options,
        jit: bool,
    ) -> Result<(Box<dyn crate::Engine>, Option<&'static ProgType>), VmError> {
        let (vm, pt) = self.interpreter(name, options)?;
        let engine: Box<dyn crate::Engine> = if jit {
            Box::new(crate::JitProgram::checked(vm)?)
        } else {
            Box::new(vm)
        };
        Ok((engine, pt))
    }
}

/// Resolves `ld_imm64` map references (`map[idx:N]`, `map[idx:N][0]+off`)
/// to the handles and value addresses of the maps of `maps`, by id;
/// `whose` names the maps' owner in errors.
pub fn resolve_map_ref(
    maps: &MapSet,
    whose: &str,
    pc: usize,
    src: LdImm64Src,
    imm: i32,
    next_imm: i32,
) -> Result<u64, VmError> {
    let map = |i: i32| {
        u32::try_from(i)
            .ok()
            .and_then(|i| maps.get(i).map(|m| (i, m)))
            .ok_or_else(|| {
                VmError::Setup(format!(
                    "instruction {pc}: map index {i} is past the {whose} {} maps",
                    maps.len()
                ))
            })
    };
    match src {
        LdImm64Src::MapIdx => {
            let (id, _) = map(imm)?;
            maps.handle(id).ok_or_else(|| {
                VmError::Setup(format!(
                    "instruction {pc}: map index {imm} has no handle in the {whose} maps"
                ))
            })
        }
        LdImm64Src::MapIdxValue => {
            let (_, m) = map(imm)?;
            let off = next_imm as u32;
            if off >= m.spec().value_size {
                return Err(VmError::Setup(format!(
                    "instruction {pc}: offset {off} is past the {}-byte value of map {:?}",
                    m.spec().value_size,
                    m.spec().name
                )));
            }
            let guard = ironbpf_maps::pin();
            let p = m
                .lookup_ptr(&0u32.to_ne_bytes(), 0, &guard)
                .ok_or_else(|| {
                    VmError::Setup(format!(
                        "instruction {pc}: map {:?} gives no direct value address (only arrays do)",
                        m.spec().name
                    ))
                })?;
            Ok(p.as_ptr() as u64 + off as u64)
        }
        other => Err(VmError::Setup(format!(
            "instruction {pc}: ld_imm64 with {other:?} is not resolved by ironbpf's runtime yet"
        ))),
    }
}

/// A program's maps, for programs built without an ELF object: resolves
/// `map[idx:N]` to map `N` of the set and gives the set to the map helpers
/// and to the run's memory checks.
#[derive(Clone)]
pub struct MapResolver(pub Arc<MapSet>);

impl LdImm64Resolver for MapResolver {
    fn resolve(&self, pc: usize, src: LdImm64Src, imm: i32, next_imm: i32) -> Result<u64, VmError> {
        resolve_map_ref(&self.0, "program's", pc, src, imm, next_imm)
    }

    fn map_set(&self) -> Option<Arc<MapSet>> {
        Some(self.0.clone())
    }
}

impl RegionResolver for MapResolver {
    fn resolve(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        self.0.resolve(addr, len)
    }
}

impl LdImm64Resolver for LoadedObject {
    fn resolve(&self, pc: usize, src: LdImm64Src, imm: i32, next_imm: i32) -> Result<u64, VmError> {
        resolve_map_ref(&self.maps, "object's", pc, src, imm, next_imm)
    }

    fn map_set(&self) -> Option<Arc<MapSet>> {
        Some(self.maps.clone())
    }
}

/// Map values of an object, for a run's checked accesses.
impl RegionResolver for LoadedObject {
    fn resolve(&self, addr: u64, len: u64) -> Option<MemoryRegion> {
        self.maps.resolve(addr, len)
    }
}
