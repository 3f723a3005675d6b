//! What the standard helpers read from and write to outside the program:
//! the identity of the "current task" (the host process, unless the
//! embedder sets another), the clocks, the trace log that
//! `bpf_trace_printk` writes and the host reads, and the [`World`] (routes,
//! neighbours, sockets) that the FIB and socket lookups read.

use crate::world::World;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};

/// The task a program runs "in": what `bpf_get_current_pid_tgid`,
/// `bpf_get_current_uid_gid`, `bpf_get_current_comm` and
/// `bpf_get_current_cgroup_id` return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    /// The thread id (the kernel's `task->pid`).
    pub pid: u32,
    /// The process id (`task->tgid`).
    pub tgid: u32,
    pub uid: u32,
    pub gid: u32,
    /// `task->comm`: at most 15 bytes.
    pub comm: Vec<u8>,
    /// The id of the task's cgroup v2 (the inode number of its directory),
    /// 0 when there is none.
    pub cgroup_id: u64,
    /// The pid namespace (`st_dev`, `st_ino` of `/proc/self/ns/pid`).
    pub pidns: (u64, u64),
}

impl TaskInfo {
    /// The calling thread of the host process.
    pub fn current() -> TaskInfo {
        // SAFETY: these calls take no pointers.
        let (pid, tgid, uid, gid) = unsafe {
            (
                libc::syscall(libc::SYS_gettid) as u32,
                libc::getpid() as u32,
                libc::getuid(),
                libc::getgid(),
            )
        };
        let comm = std::fs::read("/proc/thread-self/comm")
            .map(|mut c| {
                if c.last() == Some(&b'\n') {
                    c.pop();
                }
                c.truncate(15);
                c
            })
            .unwrap_or_default();
        TaskInfo {
            pid,
            tgid,
            uid,
            gid,
            comm,
            cgroup_id: own_cgroup_id(),
            pidns: std::fs::metadata("/proc/self/ns/pid")
                .map(|m| {
                    use std::os::unix::fs::MetadataExt;
                    (m.dev(), m.ino())
                })
                .unwrap_or((0, 0)),
        }
    }
}

/// The cgroup v2 id of this process: the inode of its directory in the
/// unified hierarchy (`0::/path` in `/proc/self/cgroup`).
fn own_cgroup_id() -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return 0;
    };
    let Some(path) = text.lines().find_map(|l| l.strip_prefix("0::")) else {
        return 0;
    };
    for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        let dir = format!("{root}{path}");
        if std::path::Path::new(root)
            .join("cgroup.controllers")
            .exists()
            || root.ends_with("unified")
        {
            if let Ok(m) = std::fs::metadata(&dir) {
                return m.ino();
            }
        }
    }
    0
}

/// One `bpf_trace_printk` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// The task the program ran in.
    pub pid: u32,
    pub comm: Vec<u8>,
    /// The engine's CPU slot.
    pub cpu: u32,
    /// `CLOCK_MONOTONIC` when it was written, in nanoseconds.
    pub timestamp_ns: u64,
    /// The message as the program formatted it (no NUL).
    pub message: Vec<u8>,
}

impl TraceRecord {
    /// The record as one line of the kernel's `trace_pipe`:
    /// `<comm>-<pid> [cpu] ..... <secs>.<usecs>: bpf_trace_printk: <msg>`.
    pub fn trace_pipe_line(&self) -> String {
        let msg = String::from_utf8_lossy(&self.message);
        let msg = msg.strip_suffix('\n').unwrap_or(&msg);
        format!(
            "{:>16}-{:<7} [{:03}] ..... {:5}.{:06}: bpf_trace_printk: {}",
            String::from_utf8_lossy(&self.comm),
            self.pid,
            self.cpu,
            self.timestamp_ns / 1_000_000_000,
            self.timestamp_ns / 1000 % 1_000_000,
            msg
        )
    }
}

/// The trace log: `bpf_trace_printk` appends, the host takes. It keeps the
/// newest [`TraceLog::CAPACITY`] records, as the kernel's ring drops the
/// oldest.
#[derive(Default)]
pub struct TraceLog {
    records: Mutex<VecDeque<TraceRecord>>,
    dropped: std::sync::atomic::AtomicU64,
}

impl TraceLog {
    /// Records kept before the oldest is dropped.
    pub const CAPACITY: usize = 65536;

    /// Appends a record.
    pub fn push(&self, r: TraceRecord) {
        let mut q = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= Self::CAPACITY {
            q.pop_front();
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        q.push_back(r);
    }

    /// Takes every record, oldest first.
    pub fn take(&self) -> Vec<TraceRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect()
    }

    /// The messages waiting, without taking them.
    pub fn messages(&self) -> Vec<String> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|r| String::from_utf8_lossy(&r.message).into_owned())
            .collect()
    }

    /// Records dropped because the log was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The kernel's `HZ`, for `bpf_jiffies64`, and `INITIAL_JIFFIES`.
#[derive(Clone, Copy, Debug)]
pub struct Jiffies {
    pub hz: u64,
    /// jiffies at `CLOCK_MONOTONIC` 0.
    pub at_zero: u64,
}

impl Jiffies {
    /// The host kernel's, when `/proc/timer_list` tells (root only), else
    /// `HZ = 250` counting from boot as the kernel does. Read once per
    /// process.
    pub fn host() -> Jiffies {
        static HOST: std::sync::OnceLock<Jiffies> = std::sync::OnceLock::new();
        *HOST.get_or_init(Self::read_host)
    }

    fn read_host() -> Jiffies {
        let hz = 250u64;
        let initial = (-(300 * hz as i64)) as u32 as u64;
        let fallback = Jiffies {
            hz,
            at_zero: initial,
        };
        let Ok(text) = std::fs::read_to_string("/proc/timer_list") else {
            return fallback;
        };
        // "now at 123456789 nsecs" and "jiffies: 4295..." were read at
        // about the same moment.
        let now = text.lines().find_map(|l| {
            l.strip_prefix("now at ")?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        });
        let jiffies = text.lines().find_map(|l| {
            l.trim()
                .strip_prefix("jiffies:")?
                .trim()
                .parse::<u64>()
                .ok()
        });
        match (now, jiffies) {
            (Some(now), Some(j)) => {
                // The kernel starts at 2^32 - 300 * HZ: solve for HZ when
                // the uptime is long enough to tell.
                let secs = now as f64 / 1e9;
                let hz = if (secs - 300.0).abs() > 60.0 {
                    let est = (j as f64 - 4294967296.0) / (secs - 300.0);
                    [100u64, 250, 300, 1000]
                        .into_iter()
                        .min_by(|a, b| (*a as f64 - est).abs().total_cmp(&(*b as f64 - est).abs()))
                        .unwrap_or(hz)
                } else {
                    hz
                };
                Jiffies {
                    hz,
                    at_zero: j.wrapping_sub(now / (1_000_000_000 / hz)),
                }
            }
            _ => fallback,
        }
    }

    /// jiffies at `CLOCK_MONOTONIC` time `mono_ns`.
    pub fn at(&self, mono_ns: u64) -> u64 {
        self.at_zero
            .wrapping_add(mono_ns / (1_000_000_000 / self.hz.max(1)))
    }
}

/// The environment of the standard helpers. Shared by every program that
/// uses one [`crate::HelperRegistry`]; thread-safe.
pub struct HelperEnv {
    task: RwLock<Option<TaskInfo>>,
    trace: TraceLog,
    jiffies: Jiffies,
    socket_uid: RwLock<u32>,
    world: RwLock<Arc<World>>,
}

impl HelperEnv {
    /// The host process as the current task, the host's clocks.
    pub fn host() -> HelperEnv {
        HelperEnv {
            task: RwLock::new(None),
            trace: TraceLog::default(),
            jiffies: Jiffies::host(),
            socket_uid: RwLock::new(0),
            world: RwLock::new(default_world()),
        }
    }

    /// Makes `task` the current task of every run (`None`: the calling
    /// thread of the host process, looked up at each call).
    pub fn set_task(&self, task: Option<TaskInfo>) {
        *self.task.write().unwrap_or_else(|e| e.into_inner()) = task;
    }

    /// The current task.
    pub fn task(&self) -> TaskInfo {
        match &*self.task.read().unwrap_or_else(|e| e.into_inner()) {
            Some(t) => t.clone(),
            None => TaskInfo::current(),
        }
    }

    /// A field of the task the embedder set, if it set one.
    fn set_field<T>(&self, f: impl FnOnce(&TaskInfo) -> T) -> Option<T> {
        self.task
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(f)
    }

    /// The current task's thread and process ids (`pid`, `tgid`): two
    /// system calls for the host's, no file read.
    pub fn pid_tgid(&self) -> (u32, u32) {
        self.set_field(|t| (t.pid, t.tgid)).unwrap_or_else(|| {
            // SAFETY: these calls take no pointers.
            unsafe {
                (
                    libc::syscall(libc::SYS_gettid) as u32,
                    libc::getpid() as u32,
                )
            }
        })
    }

    /// The current task's uid and gid.
    pub fn uid_gid(&self) -> (u32, u32) {
        self.set_field(|t| (t.uid, t.gid))
            // SAFETY: these calls take no pointers.
            .unwrap_or_else(|| unsafe { (libc::getuid(), libc::getgid()) })
    }

    /// The current task's name.
    pub fn comm(&self) -> Vec<u8> {
        self.set_field(|t| t.comm.clone())
            .unwrap_or_else(|| TaskInfo::current().comm)
    }

    /// The current task's cgroup v2 id (the host's is looked up once).
    pub fn cgroup_id(&self) -> u64 {
        static HOST: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        self.set_field(|t| t.cgroup_id)
            .unwrap_or_else(|| *HOST.get_or_init(own_cgroup_id))
    }

    /// The current task's pid namespace (`st_dev`, `st_ino`).
    pub fn pidns(&self) -> (u64, u64) {
        self.set_field(|t| t.pidns)
            .unwrap_or_else(|| TaskInfo::current().pidns)
    }

    /// The trace log `bpf_trace_printk` writes.
    pub fn trace(&self) -> &TraceLog {
        &self.trace
    }

    /// How jiffies are counted.
    pub fn jiffies(&self) -> Jiffies {
        self.jiffies
    }

    /// The uid of the socket that owns a packet (`bpf_get_socket_uid`):
    /// the kernel's test run gives a socket owned by root, 0.
    pub fn socket_uid(&self) -> u32 {
        *self.socket_uid.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The kernel tables `bpf_fib_lookup`, `bpf_redirect_neigh` and the
    /// socket lookups read (the process's default, [`set_default_world`],
    /// until one is set).
    pub fn world(&self) -> Arc<World> {
        self.world.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes `world` the tables every later run reads.
    pub fn set_world(&self, world: World) {
        *self.world.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(world);
    }

    /// Sets the uid `bpf_get_socket_uid` returns.
    pub fn set_socket_uid(&self, uid: u32) {
        *self.socket_uid.write().unwrap_or_else(|e| e.into_inner()) = uid;
    }
}

/// The world every [`HelperEnv::host`] starts with.
static DEFAULT_WORLD: RwLock<Option<Arc<World>>> = RwLock::new(None);

fn default_world() -> Arc<World> {
    DEFAULT_WORLD
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| Arc::new(World::default()))
}

/// Makes `world` the one every environment created afterwards
/// ([`HelperEnv::host`]) starts with, instead of [`World::default`]: how a
/// tool's `--world FILE` reaches every run of the process.
pub fn set_default_world(world: World) {
    *DEFAULT_WORLD.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(world));
}

/// Reads a clock (`CLOCK_*`) in nanoseconds.
pub fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
