//! The running kernel's BTF (`/sys/kernel/btf/vmlinux`), read once on first
//! use and shared by every verification: the types of BTF-typed contexts
//! (`tp_btf`, `fentry`, `lsm`...) and of `PTR_TO_BTF_ID` registers.

use ironbpf_btf::{kind, Btf, NameIndex};
use std::sync::{Arc, OnceLock};

/// Where the kernel publishes its BTF.
pub const VMLINUX_PATH: &str = "/sys/kernel/btf/vmlinux";

/// A parsed vmlinux BTF and its name index.
#[derive(Debug)]
pub struct Vmlinux {
    /// The types.
    pub btf: Btf,
    /// Ids by name.
    pub names: NameIndex,
}

impl Vmlinux {
    /// Parses a BTF blob (the vmlinux file's bytes).
    pub fn parse(bytes: &[u8]) -> Result<Vmlinux, String> {
        let btf = Btf::parse(bytes).map_err(|e| format!("invalid BTF: {e}"))?;
        let names = NameIndex::new(&btf);
        Ok(Vmlinux { btf, names })
    }

    /// The first type named `name` of kind `k`.
    pub fn find(&self, name: &str, k: u32) -> Option<u32> {
        self.names.find(&self.btf, name, k)
    }

    /// The struct named `name` (`struct task_struct` is `struct_id("task_struct")`).
    pub fn struct_id(&self, name: &str) -> Option<u32> {
        self.find(name, kind::STRUCT)
    }

    /// The name of type `id` (`""` for anonymous types).
    pub fn name(&self, id: u32) -> &str {
        self.btf.name(id)
    }

    /// The kernel's context type of a program type (its kernel id), as
    /// `get_kern_ctx_btf_id` reads it: the type of the member
    /// `BPF_PROG_TYPE_<NAME>_kern` of `struct bpf_ctx_convert`. `Err` holds
    /// the member's type id when it is not a struct (tracing, lsm, syscall:
    /// `void *`), or 0 when this BTF has no such member.
    pub fn kern_ctx_type(&self, prog_type: u32) -> Result<u32, u32> {
        self.ctx_convert_member(prog_type, "kern")
    }

    /// The context type programs of a program type (its kernel id) see:
    /// the member `BPF_PROG_TYPE_<NAME>_prog` of `struct bpf_ctx_convert`
    /// (`struct __sk_buff` for tc), as [`Vmlinux::kern_ctx_type`].
    pub fn prog_ctx_type(&self, prog_type: u32) -> Result<u32, u32> {
        self.ctx_convert_member(prog_type, "prog")
    }

    fn ctx_convert_member(&self, prog_type: u32, which: &str) -> Result<u32, u32> {
        let prog_types = self.find("bpf_prog_type", kind::ENUM).ok_or(0u32)?;
        let enum_name = self
            .btf
            .get(prog_types)
            .and_then(|e| e.members.iter().find(|m| m.offset == u64::from(prog_type)))
            .map(|m| self.btf.str_at(m.name_off))
            .ok_or(0u32)?;
        let member = format!("{enum_name}_{which}");
        let conv = self.struct_id("bpf_ctx_convert").ok_or(0u32)?;
        let t = self
            .btf
            .get(conv)
            .and_then(|c| {
                c.members
                    .iter()
                    .find(|m| self.btf.str_at(m.name_off) == member)
            })
            .map(|m| m.type_id)
            .ok_or(0u32)?;
        if self.btf.is_struct(t) {
            Ok(t)
        } else {
            Err(t)
        }
    }
}

static VMLINUX: OnceLock<Result<Arc<Vmlinux>, String>> = OnceLock::new();

/// The running kernel's BTF, read and parsed on the first call; an error
/// that says what is missing when the kernel has none (no
/// CONFIG_DEBUG_INFO_BTF, or not Linux).
pub fn vmlinux() -> Result<Arc<Vmlinux>, String> {
    VMLINUX
        .get_or_init(|| {
            let bytes = std::fs::read(VMLINUX_PATH).map_err(|e| {
                format!(
                    "cannot read the kernel's BTF at {VMLINUX_PATH} ({e}): BTF-typed programs (tp_btf, fentry, fexit, lsm, iter) need a kernel built with CONFIG_DEBUG_INFO_BTF"
                )
            })?;
            Vmlinux::parse(&bytes)
                .map(Arc::new)
                .map_err(|e| format!("{VMLINUX_PATH}: {e}"))
        })
        .clone()
}

/// The name of vmlinux type `id`, for the log (`""` without vmlinux BTF).
pub fn type_name(id: u32) -> String {
    vmlinux()
        .map(|v| v.name(id).to_string())
        .unwrap_or_default()
}
