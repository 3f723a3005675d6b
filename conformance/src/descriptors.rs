//! Probes of the program-type descriptors against the kernel: for each
//! loadable program type (and each attach type that changes its rules), a
//! tiny program per context access (every offset from a little before 0 to
//! 16 past the context's end, sizes 1, 2, 4 and 8, as a load, a store of a
//! register, a store of an immediate and an atomic add) and per return
//! value; the kernel's verdict is compared with what
//! [`ProgTypeDesc::is_valid_access`] and [`ProgTypeDesc::return_range`]
//! predict.
//!
//! [`ProbeResult`] and [`GroupSummary`] are plain types that other probe
//! groups (the helper probes) share, so `ironbpf diff --descriptors` can
//! list them all the same way.

use ironbpf_kernel::{load_program, ProgLoad};
use ironbpf_progtype::{AccessKind, AttachType, CtxAccess, ProgTypeDesc, ProgTypeId, RetRange};

/// One probe: what ironbpf predicted and what the kernel said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    /// The probe group (`"ctx"`, `"return"`, `"helpers"`...).
    pub group: String,
    /// What was probed (`"sched_cls"`, `"cgroup_sock_addr/cgroup_inet4_bind"`).
    pub subject: String,
    /// The probe itself (`"load u16 at off 1"`).
    pub probe: String,
    /// Whether ironbpf accepts the program.
    pub predicted: bool,
    /// Whether the kernel accepted it.
    pub kernel: bool,
    /// The kernel's reason when it refused.
    pub kernel_message: Option<String>,
}

impl ProbeResult {
    /// Whether ironbpf and the kernel agree.
    pub fn agreed(&self) -> bool {
        self.predicted == self.kernel
    }
}

/// The counts of one group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupSummary {
    /// The group's name.
    pub group: String,
    /// How many probes ran.
    pub probes: usize,
    /// How many agreed.
    pub agreed: usize,
    /// How many the kernel accepted.
    pub kernel_accepted: usize,
}

impl GroupSummary {
    /// How many disagreed.
    pub fn disagreed(&self) -> usize {
        self.probes - self.agreed
    }
}

/// The counts per group, in the order the groups first appear.
pub fn summarize(results: &[ProbeResult]) -> Vec<GroupSummary> {
    let mut out: Vec<GroupSummary> = Vec::new();
    for r in results {
        let i = match out.iter().position(|g| g.group == r.group) {
            Some(i) => i,
            None => {
                out.push(GroupSummary {
                    group: r.group.clone(),
                    ..Default::default()
                });
                out.len() - 1
            }
        };
        let g = &mut out[i];
        g.probes += 1;
        g.agreed += r.agreed() as usize;
        g.kernel_accepted += r.kernel as usize;
    }
    out
}

/// A program type as loaded for probing: the descriptor and the attach
/// type the program is loaded with.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// The descriptor.
    pub desc: &'static ProgTypeDesc,
    /// The `expected_attach_type` (`None`: 0, the kernel's default).
    pub attach: Option<AttachType>,
}

impl Config {
    /// `sched_cls`, `cgroup_sock_addr/cgroup_inet4_bind`.
    pub fn label(&self) -> String {
        match self.attach {
            Some(a) => format!("{}/{}", self.desc.name, a.name()),
            None => self.desc.name.clone(),
        }
    }

    fn id(&self) -> ProgTypeId {
        self.desc.id.unwrap_or(ProgTypeId::Unspec)
    }

    /// The range of context offsets worth probing: a few far below 0, then
    /// from -8 to 16 past the end, except that an instruction's offset is 16 bits, so the syscall
    /// type's 64 KiB context is probed at its start and up to 32767.
    pub fn offsets(&self) -> Vec<i64> {
        let end = self.desc.ctx_size as i64 + 16;
        let mut v: Vec<i64> = vec![i16::MIN as i64, -4096, -512, -16];
        v.extend(-8..end.min(512));
        if end > 512 {
            if end > i16::MAX as i64 {
                v.extend(i16::MAX as i64 - 64..=i16::MAX as i64);
            } else {
                v.extend(512..end);
            }
        }
        v
    }

    /// A return value the type accepts, for probes about something else.
    fn legal_r0(&self) -> i64 {
        self.desc.return_range(self.attach).map_or(0, |r| r.min)
    }

    fn load(&self, insns: &[u64]) -> (bool, Option<String>) {
        let req = ProgLoad {
            prog_type: self.id().kernel_id(),
            expected_attach_type: self.attach.map_or(0, |a| a.kernel_id()),
            insns,
            name: "ctx_probe",
            log_level: 0,
            prog_flags: if self.id() == ProgTypeId::Syscall {
                BPF_F_SLEEPABLE
            } else {
                0
            },
            ..Default::default()
        };
        let out = load_program(&req);
        let ok = out.accepted();
        let why = match (&out.result, out.first_error_line) {
            (Ok(_), _) => None,
            (Err(_), Some(line)) => Some(line),
            (Err(e), None) => Some(format!("{e} (no verifier log)")),
        };
        (ok, why)
    }
}

const BPF_F_SLEEPABLE: u32 = 1 << 4;

/// Every configuration worth probing: each built-in type with a context of
/// its own (not the BTF-typed ones, whose context comes from their target)
/// and each attach type its rules name. [`run`] skips, and reports, those
/// the kernel does not load (lirc_mode2 without CONFIG_BPF_LIRC_MODE2).
pub fn configs() -> Vec<Config> {
    let mut out = Vec::new();
    for d in ProgTypeDesc::all_builtin() {
        if d.btf_ctx {
            continue;
        }
        for attach in d.rule_attach_types() {
            out.push(Config { desc: d, attach });
        }
    }
    out
}

// ---- instruction encoding (host byte order slots) ---------------------------

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    code as u64
        | (dst as u64) << 8
        | (src as u64) << 12
        | (off as u16 as u64) << 16
        | (imm as u32 as u64) << 32
}

fn size_bits(size: u32) -> u8 {
    match size {
        1 => 0x10,
        2 => 0x08,
        4 => 0x00,
        _ => 0x18,
    }
}

fn size_name(size: u32) -> &'static str {
    match size {
        1 => "u8",
        2 => "u16",
        4 => "u32",
        _ => "u64",
    }
}

const EXIT: u8 = 0x95;
const MOV64_IMM: u8 = 0xb7;

fn ld_imm64(dst: u8, v: i64) -> [u64; 2] {
    [
        insn(0x18, dst, 0, 0, v as i32),
        insn(0, 0, 0, 0, (v >> 32) as i32),
    ]
}

/// The program that makes one context access, then returns `r0`.
pub fn access_program(kind: AccessKind, off: i16, size: u32, r0: i64) -> Vec<u64> {
    let mut p = Vec::with_capacity(6);
    let sz = size_bits(size);
    match kind {
        AccessKind::Load => p.push(insn(0x61 | sz, 2, 1, off, 0)),
        AccessKind::StoreReg => {
            p.push(insn(MOV64_IMM, 2, 0, 0, 0));
            p.push(insn(0x63 | sz, 1, 2, off, 0));
        }
        AccessKind::StoreImm => p.push(insn(0x62 | sz, 1, 0, off, 0)),
        AccessKind::Atomic => {
            p.push(insn(MOV64_IMM, 2, 0, 0, 0));
            // BPF_STX | BPF_ATOMIC | size, imm BPF_ADD.
            p.push(insn(0xc3 | sz, 1, 2, off, 0));
        }
    }
    p.extend(ld_imm64(0, r0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

fn kind_name(kind: AccessKind) -> &'static str {
    match kind {
        AccessKind::Load => "load",
        AccessKind::StoreReg => "store reg",
        AccessKind::StoreImm => "store imm",
        AccessKind::Atomic => "atomic add",
    }
}

/// Whether the kernel loads the type's simplest program (`r0 = legal;
/// exit`) at all; `Err` with its reason if not.
pub fn baseline(cfg: &Config) -> Result<(), String> {
    let mut p = ld_imm64(0, cfg.legal_r0()).to_vec();
    p.push(insn(EXIT, 0, 0, 0, 0));
    match cfg.load(&p) {
        (true, _) => Ok(()),
        (false, m) => Err(m.unwrap_or_else(|| "refused without a log".into())),
    }
}

/// The context group for one configuration.
pub fn probe_ctx(cfg: &Config, mut each: impl FnMut(&ProbeResult)) -> Vec<ProbeResult> {
    let mut out = Vec::new();
    let r0 = cfg.legal_r0();
    for off in cfg.offsets() {
        for kind in [
            AccessKind::Load,
            AccessKind::StoreReg,
            AccessKind::StoreImm,
            AccessKind::Atomic,
        ] {
            let sizes: &[u32] = if kind == AccessKind::Atomic {
                &[4, 8]
            } else {
                &[1, 2, 4, 8]
            };
            for &size in sizes {
                let access = CtxAccess {
                    off,
                    size,
                    kind,
                    attach_type: cfg.attach,
                    privileged: true,
                };
                let predicted = cfg.desc.is_valid_access(&access).is_ok();
                let (kernel, kernel_message) =
                    cfg.load(&access_program(kind, off as i16, size, r0));
                let r = ProbeResult {
                    group: "ctx".into(),
                    subject: cfg.label(),
                    probe: format!("{} {} at off {off}", kind_name(kind), size_name(size)),
                    predicted,
                    kernel,
                    kernel_message,
                };
                each(&r);
                out.push(r);
            }
        }
    }
    out
}

/// The values r0 is set to at exit in the return group.
pub const RETURN_VALUES: &[i64] = &[
    -4096,
    -4095,
    -2,
    -1,
    0,
    1,
    2,
    3,
    4,
    5,
    7,
    255,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    i64::MAX,
    i64::MIN,
];

/// The return group for one configuration.
pub fn probe_returns(cfg: &Config, mut each: impl FnMut(&ProbeResult)) -> Vec<ProbeResult> {
    let mut out = Vec::new();
    let range: Option<RetRange> = cfg.desc.return_range(cfg.attach);
    for &v in RETURN_VALUES {
        let predicted = range.is_none_or(|r| r.contains(v as u64));
        let mut p = ld_imm64(0, v).to_vec();
        p.push(insn(EXIT, 0, 0, 0, 0));
        let (kernel, kernel_message) = cfg.load(&p);
        let r = ProbeResult {
            group: "return".into(),
            subject: cfg.label(),
            probe: format!("r0 = {v:#x}"),
            predicted,
            kernel,
            kernel_message,
        };
        each(&r);
        out.push(r);
    }
    out
}

/// What [`run`] found besides the probes: configurations the kernel would
/// not load at all (a kernel built without the type, say).
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// Every probe's result.
    pub results: Vec<ProbeResult>,
    /// `(configuration, the kernel's reason)` for those not probed.
    pub unloadable: Vec<(String, String)>,
}

/// Which groups to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Groups {
    /// The context accesses.
    pub ctx: bool,
    /// The return values.
    pub returns: bool,
}

/// Runs the groups over every configuration whose label contains
/// `filter` (all if `None`); `each` sees every result as it comes.
pub fn run(groups: Groups, filter: Option<&str>, mut each: impl FnMut(&ProbeResult)) -> RunReport {
    let mut report = RunReport::default();
    for cfg in configs() {
        let label = cfg.label();
        if filter.is_some_and(|f| !label.contains(f)) {
            continue;
        }
        if let Err(why) = baseline(&cfg) {
            report.unloadable.push((label, why));
            continue;
        }
        if groups.ctx {
            report.results.extend(probe_ctx(&cfg, &mut each));
        }
        if groups.returns {
            report.results.extend(probe_returns(&cfg, &mut each));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_programs_encode_as_the_kernel_reads_them() {
        // r2 = *(u16 *)(r1 + 6): 0x69, dst 2, src 1, off 6.
        let p = access_program(AccessKind::Load, 6, 2, 0);
        assert_eq!(p[0], 0x0006_1269);
        assert_eq!(p.len(), 4);
        // lock *(u64 *)(r1 + 8) += r2.
        let p = access_program(AccessKind::Atomic, 8, 8, 1);
        assert_eq!(p[1] & 0xff, 0xdb);
        assert_eq!(p[2] >> 32, 1);
    }

    #[test]
    fn summaries_count_disagreements() {
        let mk = |group: &str, predicted, kernel| ProbeResult {
            group: group.into(),
            subject: "xdp".into(),
            probe: "p".into(),
            predicted,
            kernel,
            kernel_message: None,
        };
        let s = summarize(&[
            mk("ctx", true, true),
            mk("ctx", true, false),
            mk("return", false, false),
        ]);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].probes, s[0].agreed, s[0].disagreed()), (2, 1, 1));
        assert_eq!((s[1].group.as_str(), s[1].agreed), ("return", 1));
    }

    #[test]
    fn every_loadable_type_has_a_configuration() {
        let labels: Vec<String> = configs().iter().map(|c| c.label()).collect();
        for want in [
            "socket_filter",
            "sched_cls",
            "xdp",
            "xdp/xdp_devmap",
            "cgroup_skb/cgroup_inet_egress",
            "cgroup_sock_addr/cgroup_udp4_recvmsg",
            "cgroup_sockopt/cgroup_getsockopt",
            "syscall",
            "netfilter/netfilter",
        ] {
            assert!(
                labels.iter().any(|l| l == want),
                "{want} missing from {labels:?}"
            );
        }
    }
}
