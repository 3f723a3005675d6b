//! A loaded ELF object in ironbpf's runtime: its maps created in a
//! [`MapSet`] (initial values written, `.rodata` frozen), its map references
//! resolved, and ironbpf's helper table (the map helpers reaching these
//! maps), so that its programs run as they would in the kernel.
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
use ironbpf_maps::{Map, MapSet, MapSpec};
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
}

/// The `BPF_MAP_CREATE` attributes of a loader map.
pub fn map_spec(def: &MapDef, possible_cpus: usize) -> MapSpec {
    let mut spec = MapSpec::new(def.map_type, def.key_size, def.value_size, def.max_entries);
    if def.map_type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && def.max_entries == 0 {
        // libbpf sizes a perf event array to the possible CPUs.
        spec.max_entries = possible_cpus as u32;
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
        for def in &object.maps {
            let (_, map) = maps
                .create(&map_spec(def, maps.possible_cpus()))
                .map_err(|e| VmError::Setup(format!("map {:?}: {e}", def.name)))?;
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
        })
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
        LdImm64Src::MapIdx => Ok(MapSet::handle(map(imm)?.0)),
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
