//! [`Linker`]: the host's helpers and maps, and how a [`Program`] becomes
//! an [`Instance`].

use super::error::{pc_of, Error};
use super::host::{proto_of, Arg, HostHelper, IntoHostFn};
use super::instance::{Inner, Instance, Runtime};
use super::program::{line_of, MapRef, Program};
use crate::object::{map_spec, resolve_map_ref};
use crate::{HelperRegistry, Interpreter, JitProgram, LdImm64Resolver, Options, VmError};
use ironbpf_helpers::abi::HelperEntry;
use ironbpf_helpers::proto::Proto;
use ironbpf_helpers::HelperEnv;
use ironbpf_isa::{CallTarget, Insn, LdImm64Src};
use ironbpf_maps::{Map, MapSet, MapSpec};
use ironbpf_verifier::{MapInfo, VerifyOptions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// `BPF_F_RDONLY_PROG`: programs may only read the map.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// A host helper as the linker keeps it.
#[derive(Clone)]
struct HostEntry {
    id: i32,
    name: String,
    proto: Proto,
    helper: Arc<HostHelper>,
}

/// The host's side of every program it runs: host helpers (Rust closures
/// with prototypes) and maps, shared by every [`Instance`] made from it and
/// readable and writable by the host while programs run.
///
/// A `Linker` holds no global state: two linkers share nothing. It is
/// `Send + Sync`; [`Linker::instantiate`] takes `&self`.
pub struct Linker {
    maps: Arc<MapSet>,
    names: Mutex<HashMap<String, u32>>,
    host: Vec<HostEntry>,
    env: Arc<HelperEnv>,
}

impl Default for Linker {
    fn default() -> Self {
        Self::new()
    }
}

impl Linker {
    /// A linker with no maps and no host helpers.
    pub fn new() -> Linker {
        Linker {
            maps: Arc::new(MapSet::new()),
            names: Mutex::new(HashMap::new()),
            host: Vec::new(),
            env: Arc::new(HelperEnv::host()),
        }
    }

    /// Creates the map `name` (programs name it through
    /// [`Program::with_maps`], or an ELF object through a map of that
    /// name) and gives the host its handle.
    pub fn map(&self, name: &str, spec: MapSpec) -> Result<Arc<dyn Map>, Error> {
        let mut names = self.lock();
        if names.contains_key(name) {
            return Err(Error::Link(format!(
                "the linker has a map {name:?} already"
            )));
        }
        let spec = MapSpec {
            name: name.chars().take(15).collect(),
            ..spec
        };
        let (id, map) = self
            .maps
            .create(&spec)
            .map_err(|e| Error::Link(format!("map {name:?}: {e}")))?;
        names.insert(name.to_string(), id);
        Ok(map)
    }

    /// The map `name`: one the host created, or one an ELF object's
    /// program brought (after its first [`Linker::instantiate`]).
    pub fn get_map(&self, name: &str) -> Option<Arc<dyn Map>> {
        let id = *self.lock().get(name)?;
        self.maps.get(id)
    }

    /// Every map of the linker.
    pub fn maps(&self) -> &Arc<MapSet> {
        &self.maps
    }

    /// What the kernel's helpers see of the host and leave for it (the
    /// trace log of `bpf_trace_printk`).
    pub fn env(&self) -> &Arc<HelperEnv> {
        &self.env
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // A panic while holding the lock cannot leave the table half
        // written (inserts are single calls), so a poisoned lock is used.
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds the host helper `name`, which programs call as `call id`
    /// (in C: `static long (*name)(...) = (void *)id;`). `sig` gives each
    /// argument's kind, which the verifier checks at every call; `f` takes
    /// the call context and as many `u64` as `sig` has entries:
    ///
    /// ```
    /// use ironbpf_vm::embed::{Arg, Call, Linker};
    /// let mut linker = Linker::new();
    /// linker.func("add", 1000, &[Arg::Scalar, Arg::Scalar],
    ///     |_: &mut Call<'_>, a: u64, b: u64| a.wrapping_add(b)).unwrap();
    /// ```
    ///
    /// The id must be positive and not one of the kernel's helper ids
    /// (1 to 211 in Linux 6.18): those keep their kernel meaning. A panic in
    /// `f` ends the run with an error naming the helper.
    pub fn func<A>(
        &mut self,
        name: &str,
        id: i32,
        sig: &[Arg],
        f: impl IntoHostFn<A>,
    ) -> Result<&mut Self, Error>
    where
        A: 'static,
    {
        let arity = arity_of(&f);
        if sig.len() != arity {
            return Err(Error::Link(format!(
                "host helper {name}: its closure takes {arity} arguments after the call context, but its signature lists {}",
                sig.len()
            )));
        }
        if id <= 0 {
            return Err(Error::Link(format!(
                "host helper {name}: id {id} must be positive"
            )));
        }
        if let Some(k) = ironbpf_helpers::catalog::helper_name(id as i64) {
            return Err(Error::Link(format!(
                "host helper {name}: id {id} is the kernel's {k}; pick an id above 211"
            )));
        }
        if let Some(h) = self.host.iter().find(|h| h.id == id || h.name == name) {
            return Err(Error::Link(format!(
                "host helper {name} (id {id}): the linker has {} with id {} already",
                h.name, h.id
            )));
        }
        let proto = proto_of(sig).map_err(|e| Error::Link(format!("host helper {name}: {e}")))?;
        self.host.push(HostEntry {
            id,
            name: name.to_string(),
            proto,
            helper: Arc::new(HostHelper {
                name: name.to_string(),
                f: f.into_host_fn().0,
            }),
        });
        Ok(self)
    }

    /// Links `prog` (its maps by name, its helper calls), verifies it and
    /// prepares it on `runtime`'s engine. Every map it uses is the
    /// linker's, so all instances and the host share them: an ELF map
    /// whose name the linker has is that map (its type and sizes must
    /// match, else [`Error::Link`]); one it lacks is created with its
    /// initial value (`.data`, `.rodata`, frozen as libbpf freezes it) and
    /// kept for the next instances and the host ([`Linker::get_map`]).
    pub fn instantiate(&self, runtime: &Runtime, prog: &Program) -> Result<Instance, Error> {
        self.build(runtime, prog, true)
    }

    /// Like [`Linker::instantiate`] without the verifier: the program runs
    /// only checked (every access tested, helpers' pointers tested again)
    /// and only with a finite instruction budget ([`Runtime::budget`]).
    pub fn instantiate_unverified(
        &self,
        runtime: &Runtime,
        prog: &Program,
    ) -> Result<Instance, Error> {
        if runtime.trusted {
            return Err(Error::Link(
                "an unverified program cannot run on the trusted JIT: use Runtime::jit() (checked)"
                    .into(),
            ));
        }
        if runtime.budget == u64::MAX {
            return Err(Error::Link(
                "an unverified program needs a finite instruction budget (Runtime::budget)".into(),
            ));
        }
        self.build(runtime, prog, false)
    }

    /// The linker's map ids of `prog`'s map references, creating those an
    /// ELF object defines and the linker does not have yet.
    fn link_maps(&self, prog: &Program) -> Result<Vec<u32>, Error> {
        let mut names = self.lock();
        let mut ids = Vec::new();
        for m in &prog.maps {
            let id = match (names.get(m.name()), m) {
                (Some(&id), MapRef::Named(_)) => id,
                (Some(&id), MapRef::Elf(def)) => {
                    let have = self.maps.get(id).map(|m| m.spec().clone());
                    let want = map_spec(def, self.maps.possible_cpus());
                    if let Some(h) = have.filter(|h| {
                        (h.map_type, h.key_size, h.value_size)
                            != (want.map_type, want.key_size, want.value_size)
                    }) {
                        return Err(Error::Link(format!(
                            "map {:?}: the program's is type {} with {}-byte keys and {}-byte values, the linker's type {} with {}-byte keys and {}-byte values",
                            def.name, want.map_type, want.key_size, want.value_size, h.map_type, h.key_size, h.value_size
                        )));
                    }
                    id
                }
                (None, MapRef::Named(n)) => {
                    return Err(Error::Link(format!(
                        "the program uses map {n:?}, which the linker does not have (Linker::map)"
                    )))
                }
                (None, MapRef::Elf(def)) => {
                    let (id, map) = self
                        .maps
                        .create(&map_spec(def, self.maps.possible_cpus()))
                        .map_err(|e| Error::Link(format!("map {:?}: {e}", def.name)))?;
                    if let Some(v) = def.initial_value.as_ref().filter(|v| !v.is_empty()) {
                        map.update(&0u32.to_ne_bytes(), v, 0).map_err(|e| {
                            Error::Link(format!("initial value of map {:?}: {e}", def.name))
                        })?;
                    }
                    if def.frozen {
                        map.freeze()
                            .map_err(|e| Error::Link(format!("map {:?}: {e}", def.name)))?;
                    }
                    names.insert(def.name.clone(), id);
                    id
                }
            };
            ids.push(id);
        }
        Ok(ids)
    }

    fn build(&self, runtime: &Runtime, prog: &Program, verify: bool) -> Result<Instance, Error> {
        let ids = self.link_maps(prog)?;
        let pt = &prog.ptype;
        let decoded = ironbpf_isa::Program::from_slots(prog.insns.clone())
            .map_err(|e| Error::Load(e.to_string()))?;
        // The helpers the type may call: the host's, and its kernel ones.
        let standard = HelperRegistry::standard_with(self.env.clone());
        let mut registry = match &pt.kernel_helpers {
            None => standard.for_prog_type(pt.desc.kernel_id()),
            Some(allowed) => {
                let mut r = HelperRegistry::new();
                for id in allowed {
                    if let Some(e) = standard.entry(*id) {
                        r.insert(e.clone());
                    }
                }
                r
            }
        };
        for h in &self.host {
            registry.insert(HelperEntry {
                id: h.id as i64,
                name: h.name.clone(),
                proto: Some(h.proto),
                helper: h.helper.clone(),
            });
        }
        for d in decoded.insns() {
            if let Insn::Call(CallTarget::Helper(id)) = d.insn {
                if registry.get(id as i64).is_none() {
                    let what = match ironbpf_helpers::catalog::helper_name(id as i64) {
                        Some(n) if standard.get(id as i64).is_none() => format!(
                            "the kernel helper {n}#{id}, which ironbpf does not implement in userspace,"
                        ),
                        Some(n) if pt.kernel_helpers.is_some() => format!(
                            "the kernel helper {n}#{id} (give it with ProgramType::allow_kernel_helpers)"
                        ),
                        Some(n) => format!(
                            "the kernel helper {n}#{id}, which the kernel does not offer to this type,"
                        ),
                        None => format!(
                            "helper #{id}, which is neither a host helper of the linker nor a kernel helper,"
                        ),
                    };
                    return Err(Error::Rejected {
                        insn: Some(d.pc),
                        line: line_of(&prog.lines, d.pc),
                        message: format!(
                            "program of type {} cannot use {what} (host helpers: {})",
                            pt.desc.name,
                            if self.host.is_empty() {
                                "none".to_string()
                            } else {
                                self.host
                                    .iter()
                                    .map(|h| format!("{}#{}", h.name, h.id))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                        log: String::new(),
                    });
                }
            }
        }
        if verify {
            let mut opts = VerifyOptions::new(pt.rules);
            opts.attach_type = pt.attach;
            opts.gpl = prog.gpl;
            opts.privileged = runtime.privileged;
            // The verifier bounds bpf_get_smp_processor_id below nr_cpu_ids.
            opts.nr_cpu_ids = opts.nr_cpu_ids.max(runtime.cpu.saturating_add(1));
            if let Some((btf, func_info)) = &prog.btf {
                opts.set_btf(Some(btf), func_info.iter().copied());
            }
            for &id in &ids {
                let Some(m) = self.maps.get(id) else { continue };
                let s = m.spec();
                opts.maps.push(MapInfo {
                    name: s.name.clone(),
                    map_type: s.map_type,
                    key_size: s.key_size,
                    value_size: s.value_size,
                    max_entries: s.max_entries,
                    map_flags: s.map_flags,
                    frozen_readonly: m.is_frozen() && s.map_flags & BPF_F_RDONLY_PROG != 0,
                    record: Default::default(),
                });
                opts.inner_maps.push(s.inner.as_ref().map(|i| MapInfo {
                    name: i.name.clone(),
                    map_type: i.map_type,
                    key_size: i.key_size,
                    value_size: i.value_size,
                    max_entries: i.max_entries,
                    map_flags: i.map_flags,
                    frozen_readonly: false,
                    record: Default::default(),
                }));
            }
            opts.extra_helpers = self
                .host
                .iter()
                .map(|h| (h.id, h.name.clone(), h.proto))
                .collect();
            let out = ironbpf_verifier::verify_with_desc(&prog.insns, &opts, Some(&pt.desc));
            if let Err(rej) = out.result {
                return Err(Error::Rejected {
                    insn: rej.insn,
                    line: rej.insn.and_then(|i| line_of(&prog.lines, i)),
                    message: rej.message,
                    log: out.log,
                });
            }
        }
        let options = Options {
            budget: runtime.budget,
            cpu: runtime.cpu,
            ..Options::default()
        };
        let resolver = IdsResolver {
            maps: self.maps.clone(),
            ids,
        };
        let interp = Interpreter::with_resolver(&decoded, &registry, options, Some(&resolver))
            .map_err(|e| run_err(prog, e))?;
        let jit_opts = crate::JitOptions {
            harden: runtime.harden,
            blinding_seed: None,
        };
        let engine: Box<dyn crate::Engine> = if runtime.trusted && verify {
            // SAFETY: the verifier accepted the program (above), and the
            // caller of the unsafe `Runtime::jit_trusted` vouched for the
            // verifier; unverified programs never get here (refused in
            // `instantiate_unverified`).
            Box::new(
                unsafe { JitProgram::trusted_with(interp, jit_opts) }
                    .map_err(|e| run_err(prog, e))?,
            )
        } else if runtime.jit {
            Box::new(JitProgram::checked_with(interp, jit_opts).map_err(|e| run_err(prog, e))?)
        } else {
            Box::new(interp)
        };
        Ok(Instance {
            inner: Arc::new(Inner {
                engine,
                desc: pt.desc.clone(),
                attach: pt.attach,
                maps: self.maps.clone(),
                lines: prog.lines.clone(),
                name: prog.name.clone(),
                verified: verify,
            }),
        })
    }
}

fn arity_of<A, F: IntoHostFn<A>>(_: &F) -> usize {
    F::ARITY
}

pub(crate) fn run_err(prog: &Program, e: VmError) -> Error {
    let insn = pc_of(&e);
    Error::Run {
        insn,
        line: insn.and_then(|i| line_of(&prog.lines, i)),
        error: Box::new(e),
    }
}

/// `map[idx:N]` of a program: the linker's map `ids[N]`.
struct IdsResolver {
    maps: Arc<MapSet>,
    ids: Vec<u32>,
}

impl LdImm64Resolver for IdsResolver {
    fn resolve(&self, pc: usize, src: LdImm64Src, imm: i32, next_imm: i32) -> Result<u64, VmError> {
        let id = usize::try_from(imm)
            .ok()
            .and_then(|i| self.ids.get(i))
            .ok_or_else(|| {
                VmError::Setup(format!(
                    "instruction {pc}: map index {imm} is past the program's {} maps (Program::with_maps names them)",
                    self.ids.len()
                ))
            })?;
        resolve_map_ref(&self.maps, "linker's", pc, src, *id as i32, next_imm)
    }

    fn map_set(&self) -> Option<Arc<MapSet>> {
        Some(self.maps.clone())
    }
}
