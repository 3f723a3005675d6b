//! The standard helper table: every kernel helper ironbpf implements, with
//! its kernel id, name and prototype (from [`crate::catalog::HELPERS`]) and
//! its implementation.

use crate::abi::{HelperCtx, HelperEntry, HelperError, HelperRegistry};
use crate::env::HelperEnv;
use std::sync::Arc;

/// Adds the kernel helper `name` (without `bpf_`) with its uapi id and its
/// prototype from [`crate::catalog::HELPERS`].
pub(crate) fn def<F>(reg: &mut HelperRegistry, name: &str, f: F)
where
    F: Fn(&mut HelperCtx<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
{
    // The standard table is written in this crate: a name that is not a
    // helper of 6.18 is caught by every test that builds the registry.
    #[allow(
        clippy::panic,
        reason = "`name` is a literal of this crate's standard table, never user input"
    )]
    let def = crate::catalog::helper_by_name(name)
        .unwrap_or_else(|| panic!("bpf_{name} is not a kernel helper"));
    let proto = def.proto;
    let full = def.kernel_name().to_string();
    reg.insert(HelperEntry {
        id: def.id as i64,
        name: full.clone(),
        proto: Some(proto),
        helper: Arc::new(crate::abi::FnHelper::new(full, f)),
    });
}

/// Registers every standard helper.
pub(crate) fn register_standard(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    crate::misc::register(reg, env);
    crate::probe::register(reg);
    crate::net::register(reg, env);
    crate::tunnel::register(reg);
    crate::skb_room::register(reg);
    crate::fib::register(reg, env);
    crate::map_calls::register(reg);
    crate::clone_redirect::register(reg, env);
    crate::dynptr::register(reg);
}

/// The names of the helpers [`HelperRegistry::standard`] holds, without
/// `bpf_`, by id.
pub fn standard_names() -> Vec<&'static str> {
    let reg = HelperRegistry::standard();
    reg.entries()
        .iter()
        .filter_map(|e| crate::catalog::helper_by_name(&e.name).map(|d| d.name))
        .collect()
}
