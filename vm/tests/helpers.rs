//! Every helper of ironbpf's table, called from a program run by the
//! interpreter, with its effect checked: what it returns, what it writes to
//! the program's memory, the maps and the host.

use ironbpf_helpers::{Redirect, RunState, TaskInfo};
use ironbpf_isa::assemble_program;
use ironbpf_loader::{MapDef, MapKind, Object};
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{progtype, HelperRegistry, Interpreter, Options, ProgType};

const HASH: u32 = 1;
const ARRAY: u32 = 2;
const PERF: u32 = 4;
const PERCPU_ARRAY: u32 = 6;
const QUEUE: u32 = 22;
const RINGBUF: u32 = 27;

fn map(name: &str, map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        name: name.into(),
        map_type,
        key_size,
        value_size,
        max_entries,
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
    }
}

fn loaded(maps: Vec<MapDef>) -> LoadedObject {
    let obj = Object {
        programs: Vec::new(),
        maps,
        license: "GPL".into(),
        kern_version: None,
        btf: None,
    };
    LoadedObject::new(obj, &HelperRegistry::new()).unwrap()
}

/// Ethernet + IPv4 (checksum correct) + TCP, 64 bytes.
fn packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12] = 0x08;
    p[14..34].copy_from_slice(&[
        0x45, 0, 0, 50, 0, 1, 0, 0, 64, 6, 0x66, 0xc3, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    p[34..38].copy_from_slice(&[0x9c, 0x40, 0x00, 0x17]);
    p
}

struct Run {
    r0: u64,
    pkt: Vec<u8>,
    state: RunState,
}

fn run_on(obj: &LoadedObject, pt: &'static ProgType, asm: &str, pkt: Vec<u8>) -> Run {
    let prog = assemble_program(asm).unwrap_or_else(|e| panic!("{e}\n{asm}"));
    let vm = Interpreter::with_resolver(
        &prog,
        &obj.helpers_for(Some(pt)),
        Options::default(),
        Some(obj),
    )
    .unwrap_or_else(|e| panic!("{e}\n{asm}"));
    let mut ctx = vec![0u8; pt.ctx_size as usize];
    let mut pkt = pkt;
    let (r0, state) = vm
        .run_ctx_state(
            pt,
            &mut ctx,
            if pt.has_packet { Some(&mut pkt) } else { None },
            Some(obj.resolver()),
        )
        .unwrap_or_else(|e| panic!("{e}\n{asm}"));
    Run { r0, pkt, state }
}

fn run(pt: &'static ProgType, asm: &str) -> Run {
    run_on(&loaded(Vec::new()), pt, asm, packet())
}

/// Stores `bytes` at r10 - `off` (8-byte chunks through r1).
fn on_stack(bytes: &[u8], off: i32) -> String {
    let mut s = String::new();
    for (i, c) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        s += &format!(
            "r1 = {:#x} ll\n*(u64 *)(r10 {}) = r1\n",
            u64::from_le_bytes(w),
            -off + 8 * i as i32
        );
    }
    s
}

#[test]
fn every_implemented_helper_is_called_by_a_test_here() {
    let src = [include_str!("helpers.rs"), include_str!("helpers_more.rs")].concat();
    let table = HelperRegistry::standard();
    assert!(table.len() >= 60, "{} helpers", table.len());
    for e in table.entries() {
        let name = &e.name;
        let called =
            src.contains(&format!("call {name}\\n")) || src.contains(&format!("\"{name}\""));
        assert!(called, "no test calls {name}");
    }
}

#[test]
fn map_lookup_update_delete() {
    let obj = loaded(vec![map("h", HASH, 4, 8, 4)]);
    let r = run_on(
        &obj,
        &progtype::XDP,
        "r6 = 0\n*(u32 *)(r10 -4) = 7\n*(u64 *)(r10 -16) = 99\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr4 = 0\ncall bpf_map_update_elem\n\
         r1 = map[idx:0]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto +3\nr6 = *(u64 *)(r0 +0)\n\
         r1 = map[idx:0]\nr2 = r10\nr2 += -4\ncall bpf_map_delete_elem\nr0 = r6\nexit\n",
        packet(),
    );
    assert_eq!(r.r0, 99);
    assert_eq!(obj.map("h").unwrap().len(), 0, "deleted");
}

#[test]
fn queue_push_pop_peek() {
    let obj = loaded(vec![map("q", QUEUE, 0, 8, 4)]);
    let r = run_on(
        &obj,
        &progtype::XDP,
        "*(u64 *)(r10 -8) = 5\nr1 = map[idx:0]\nr2 = r10\nr2 += -8\nr3 = 0\ncall bpf_map_push_elem\n\
         *(u64 *)(r10 -8) = 6\nr1 = map[idx:0]\nr2 = r10\nr2 += -8\nr3 = 0\ncall bpf_map_push_elem\n\
         r1 = map[idx:0]\nr2 = r10\nr2 += -16\ncall bpf_map_peek_elem\n\
         r1 = map[idx:0]\nr2 = r10\nr2 += -24\ncall bpf_map_pop_elem\n\
         r0 = *(u64 *)(r10 -16)\nr1 = *(u64 *)(r10 -24)\nr0 <<= 8\nr0 |= r1\nexit\n",
        packet(),
    );
    assert_eq!(r.r0, 5 << 8 | 5, "peek and pop see the oldest");
    assert_eq!(obj.map("q").unwrap().len(), 1);
}

#[test]
fn percpu_lookup_names_the_cpu() {
    let obj = loaded(vec![map("pc", PERCPU_ARRAY, 4, 8, 1)]);
    let m = obj.map("pc").unwrap();
    let cpus = m.possible_cpus();
    let values: Vec<u8> = (0..cpus as u64)
        .flat_map(|c| (100 + c).to_ne_bytes())
        .collect();
    m.update(&0u32.to_ne_bytes(), &values, 0).unwrap();
    let cpu = (cpus - 1) as i32;
    let r = run_on(
        &obj,
        &progtype::XDP,
        &format!("*(u32 *)(r10 -4) = 0\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\nr3 = {cpu}\ncall bpf_map_lookup_percpu_elem\nif r0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nexit\n"),
        packet(),
    );
    assert_eq!(r.r0, 100 + cpu as u64);
}

static SECRET: u64 = 0x5ec7_e7c0_ffee_0001;
static GREETING: &[u8] = b"hello, host\0";

#[test]
fn probe_reads_of_host_memory() {
    let addr = &SECRET as *const u64 as u64;
    for call in [
        "bpf_probe_read",
        "bpf_probe_read_kernel",
        "bpf_probe_read_user",
    ] {
        let r = run(&progtype::KPROBE, &format!("r1 = r10\nr1 += -8\nr2 = 8\nr3 = {addr:#x} ll\ncall {call}\nr0 = *(u64 *)(r10 -8)\nexit\n"));
        assert_eq!(r.r0, SECRET, "{call}");
        // A fault: -EFAULT and a zeroed destination; a kernel read of the
        // never-mapped low addresses is -ERANGE, as in the kernel.
        let r = run(&progtype::KPROBE, &format!("*(u64 *)(r10 -8) = -1\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 16\ncall {call}\nr6 = r0\nr0 = *(u64 *)(r10 -8)\nr0 += r6\nexit\n"));
        let want = if call.ends_with("kernel") { -34 } else { -14 };
        assert_eq!(r.r0 as i64, want, "{call}: the errno plus zero");
        // SAFETY: a fresh anonymous mapping nobody else uses.
        let hole = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        } as u64;
        let r = run(&progtype::KPROBE, &format!("*(u64 *)(r10 -8) = -1\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = {hole:#x} ll\ncall {call}\nr6 = r0\nr0 = *(u64 *)(r10 -8)\nr0 += r6\nexit\n"));
        assert_eq!(r.r0 as i64, -14, "{call}: an unmapped address is -EFAULT");
    }
    let s = GREETING.as_ptr() as u64;
    for call in [
        "bpf_probe_read_str",
        "bpf_probe_read_kernel_str",
        "bpf_probe_read_user_str",
    ] {
        // Into 6 bytes: "hello" and the NUL; the length returned counts it.
        let r = run(&progtype::KPROBE, &format!("r1 = r10\nr1 += -8\nr2 = 6\nr3 = {s:#x} ll\ncall {call}\nr6 = r0\nr0 = *(u64 *)(r10 -8)\nr6 <<= 56\nr0 |= r6\nexit\n"));
        assert_eq!(r.r0.to_le_bytes()[..6], *b"hello\0", "{call}");
        assert_eq!(r.r0 >> 56, 6, "{call}");
    }
}

fn clock(c: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(c, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[test]
fn clocks() {
    for (call, c) in [
        ("bpf_ktime_get_ns", libc::CLOCK_MONOTONIC),
        ("bpf_ktime_get_boot_ns", libc::CLOCK_BOOTTIME),
        ("bpf_ktime_get_coarse_ns", libc::CLOCK_MONOTONIC_COARSE),
        ("bpf_ktime_get_tai_ns", libc::CLOCK_TAI),
    ] {
        let before = clock(c);
        // The coarse clock is for networking programs only, as in the kernel.
        let pt = if call.contains("coarse") {
            &progtype::XDP
        } else {
            &progtype::KPROBE
        };
        let r = run(pt, &format!("call {call}\nexit\n"));
        let after = clock(c);
        assert!(
            before <= r.r0 + 10_000_000 && r.r0 <= after + 10_000_000,
            "{call}: {before} {} {after}",
            r.r0
        );
    }
    // 20 ms is at least 4 jiffies at HZ=250 (3 after rounding); at most as
    // many as the time the two runs really took, however long a loaded
    // machine makes the sleep.
    let start = std::time::Instant::now();
    let a = run(&progtype::KPROBE, "call bpf_jiffies64\nexit\n").r0;
    std::thread::sleep(std::time::Duration::from_millis(20));
    let b = run(&progtype::KPROBE, "call bpf_jiffies64\nexit\n").r0;
    let most = start.elapsed().as_millis() as u64 / 4 + 2;
    assert!(
        (3..=most).contains(&(b - a)),
        "3 to {most} jiffies at HZ=250 over the sleep: {a} {b}"
    );
}

#[test]
fn randomness_and_the_cpu() {
    let r = run(
        &progtype::XDP,
        "call bpf_get_prandom_u32\nr6 = r0\ncall bpf_get_prandom_u32\nr0 <<= 32\nr0 |= r6\nexit\n",
    );
    assert_ne!(r.r0 >> 32, r.r0 & 0xffff_ffff, "two draws differ");
    assert_eq!(
        run(&progtype::XDP, "call bpf_get_smp_processor_id\nexit\n").r0,
        0
    );
    assert_eq!(
        run(&progtype::XDP, "call bpf_get_numa_node_id\nexit\n").r0,
        0
    );
}

#[test]
fn trace_printk_writes_to_the_host_sink() {
    let obj = loaded(Vec::new());
    let asm = on_stack(b"x=%d y=%s\0", 16) + &on_stack(b"hi\0", 24) + "r1 = r10\nr1 += -16\nr2 = 11\nr3 = -42\nr4 = r10\nr4 += -24\ncall bpf_trace_printk\nexit\n";
    let r = run_on(&obj, &progtype::KPROBE, &asm, Vec::new());
    assert_eq!(obj.env.trace().messages(), vec!["x=-42 y=hi".to_string()]);
    assert_eq!(r.r0, 10, "the length written");
}

#[test]
fn snprintf_formats_into_the_buffer() {
    let asm = on_stack(b"%05u|%x\0", 16)
        + "*(u64 *)(r10 -32) = 42\n*(u64 *)(r10 -24) = 255\n"
        + "r1 = r10\nr1 += -48\nr2 = 16\nr3 = r10\nr3 += -16\nr4 = r10\nr4 += -32\nr5 = 16\ncall bpf_snprintf\n\
           r6 = r0\nr0 = *(u64 *)(r10 -48)\nexit\n";
    let r = run(&progtype::KPROBE, &asm);
    assert_eq!(&r.r0.to_le_bytes(), b"00042|ff");
}

#[test]
fn the_current_task_is_the_host_process() {
    // SAFETY: plain syscalls without preconditions.
    let (pid, tid, uid, gid) = unsafe {
        (
            libc::getpid() as u64,
            libc::gettid() as u64,
            libc::getuid() as u64,
            libc::getgid() as u64,
        )
    };
    assert_eq!(
        run(&progtype::KPROBE, "call bpf_get_current_pid_tgid\nexit\n").r0,
        pid << 32 | tid
    );
    assert_eq!(
        run(&progtype::KPROBE, "call bpf_get_current_uid_gid\nexit\n").r0,
        gid << 32 | uid
    );
    let r = run(
        &progtype::KPROBE,
        "r1 = r10\nr1 += -16\nr2 = 16\ncall bpf_get_current_comm\nr0 = *(u64 *)(r10 -16)\nexit\n",
    );
    // The task is the calling thread, as the kernel's `current`.
    let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    let want: Vec<u8> = comm
        .trim_end()
        .bytes()
        .chain(std::iter::repeat(0))
        .take(8)
        .collect();
    assert_eq!(r.r0.to_le_bytes().to_vec(), want);
    assert_eq!(
        run(&progtype::KPROBE, "call bpf_get_current_task\nexit\n").r0,
        0
    );
    let cg = run(&progtype::KPROBE, "call bpf_get_current_cgroup_id\nexit\n").r0;
    assert!(cg > 0, "the cgroup directory's inode");
    // Overridable by the embedder.
    let obj = loaded(Vec::new());
    obj.env.set_task(Some(TaskInfo {
        pid: 8,
        tgid: 7,
        uid: 1000,
        gid: 100,
        comm: b"worker".to_vec(),
        cgroup_id: 42,
        pidns: (0, 0),
    }));
    let pid_tgid = |obj: &LoadedObject| {
        run_on(
            obj,
            &progtype::KPROBE,
            "call bpf_get_current_pid_tgid\nexit\n",
            Vec::new(),
        )
        .r0
    };
    assert_eq!(pid_tgid(&obj), 7 << 32 | 8);
    assert_eq!(
        run_on(
            &obj,
            &progtype::KPROBE,
            "call bpf_get_current_uid_gid\nexit\n",
            Vec::new()
        )
        .r0,
        100 << 32 | 1000
    );
    assert_eq!(
        run_on(
            &obj,
            &progtype::KPROBE,
            "call bpf_get_current_cgroup_id\nexit\n",
            Vec::new()
        )
        .r0,
        42
    );
    let r = run_on(
        &obj,
        &progtype::KPROBE,
        "r1 = r10\nr1 += -8\nr2 = 4\ncall bpf_get_current_comm\nr0 = *(u64 *)(r10 -8)\nexit\n",
        Vec::new(),
    );
    assert_eq!(
        &r.r0.to_le_bytes()[..4],
        b"wor\0",
        "cut to the buffer, NUL-terminated"
    );
}

#[test]
fn string_helpers() {
    let strtol = |s: &[u8], flags: i64| {
        let asm = on_stack(s, 16)
            + &format!("*(u64 *)(r10 -24) = 0\nr1 = r10\nr1 += -16\nr2 = {}\nr3 = {flags}\nr4 = r10\nr4 += -24\ncall bpf_strtol\nr6 = r0\nr6 &= 0xff\nr0 = *(u64 *)(r10 -24)\nr0 <<= 8\nr0 |= r6\nexit\n", s.len());
        let r = run(&progtype::KPROBE, &asm).r0;
        ((r as i64) >> 8, (r & 0xff) as i8)
    };
    assert_eq!(strtol(b" -123x", 0), (-123, 5));
    assert_eq!(strtol(b"0x7f", 0), (127, 4));
    assert_eq!(strtol(b"zz", 10), (0, -22));
    let r = run(
        &progtype::KPROBE,
        &(on_stack(b"-5", 16) + "r1 = r10\nr1 += -16\nr2 = 2\nr3 = 10\nr4 = r10\nr4 += -24\ncall bpf_strtoul\nexit\n"),
    );
    assert_eq!(r.r0 as i64, -22, "strtoul refuses a minus sign");
    let r = run(
        &progtype::KPROBE,
        &(on_stack(b"0755", 16) + "r1 = r10\nr1 += -16\nr2 = 4\nr3 = 8\nr4 = r10\nr4 += -24\ncall bpf_strtoul\nr0 = *(u64 *)(r10 -24)\nexit\n"),
    );
    assert_eq!(r.r0, 0o755);
    let cmp = |a: &[u8], b: &[u8], n: usize| {
        let asm = on_stack(a, 16)
            + &on_stack(b, 32)
            + &format!(
                "r1 = r10\nr1 += -16\nr2 = {n}\nr3 = r10\nr3 += -32\ncall bpf_strncmp\nexit\n"
            );
        run(&progtype::KPROBE, &asm).r0 as i64
    };
    assert_eq!(cmp(b"abcd", b"abce\0", 3), 0);
    assert_eq!(cmp(b"abcd", b"abce\0", 4), -1);
    assert_eq!(cmp(b"abd\0", b"abc\0", 4), 1);
}

#[test]
fn csum_diff_sums_in_ones_complement() {
    let asm = "*(u32 *)(r10 -8) = 0x0a000001\n*(u32 *)(r10 -4) = 0x0a000002\nr1 = 0\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 8\nr5 = 0\ncall bpf_csum_diff\nexit\n";
    let r = run(&progtype::SCHED_CLS, asm);
    // Linux 6.13 on folds the sum to 16 bits: 0x0a000001 + 0x0a000002.
    assert_eq!(r.r0, 0x1400 + 0x0003);
    // Removing what was added leaves ones' complement zero.
    let asm = "*(u32 *)(r10 -8) = 0x11223344\nr1 = r10\nr1 += -8\nr2 = 4\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = 0\ncall bpf_csum_diff\nexit\n";
    assert_eq!(run(&progtype::SCHED_CLS, asm).r0, 0xffff);
    let asm = "r1 = 0\nr2 = 0\nr3 = 0\nr4 = 0\nr5 = 0x12345678\ncall bpf_csum_diff\nexit\n";
    assert_eq!(
        run(&progtype::SCHED_CLS, asm).r0,
        0x1234 + 0x5678,
        "the seed alone, folded"
    );
}

#[test]
fn ring_buffers() {
    let obj = loaded(vec![map("rb", RINGBUF, 0, 0, 4096)]);
    let asm = "*(u64 *)(r10 -8) = 11\nr1 = map[idx:0]\nr2 = r10\nr2 += -8\nr3 = 8\nr4 = 0\ncall bpf_ringbuf_output\n\
               r1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto out\n*(u64 *)(r0 +0) = 22\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit\n\
               r1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto out\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_discard\n\
               r1 = map[idx:0]\nr2 = 0\ncall bpf_ringbuf_query\nexit\nout:\nr0 = 1\nexit\n";
    let r = run_on(&obj, &progtype::XDP, asm, packet());
    assert_eq!(
        r.r0,
        3 * 16,
        "three 16-byte records are pending (BPF_RB_AVAIL_DATA)"
    );
    let m = obj.map("rb").unwrap();
    let rb = m.as_any().downcast_ref::<ironbpf_maps::RingBuf>().unwrap();
    let mut got = Vec::new();
    rb.consume(|rec| got.push(u64::from_ne_bytes(rec.data[..8].try_into().unwrap())));
    assert_eq!(got, vec![11, 22], "the discarded record is skipped");
}

#[test]
fn perf_event_output_reaches_the_consumer() {
    let obj = loaded(vec![map("ev", PERF, 4, 4, 2)]);
    let m = obj.map("ev").unwrap();
    m.update(&0u32.to_ne_bytes(), &1u32.to_ne_bytes(), 0)
        .unwrap();
    let asm = "r6 = r1\n*(u64 *)(r10 -8) = 77\nr1 = r6\nr2 = map[idx:0]\nr3 = 0xffffffff ll\nr4 = r10\nr4 += -8\nr5 = 8\ncall bpf_perf_event_output\nexit\n";
    let r = run_on(&obj, &progtype::KPROBE, asm, Vec::new());
    assert_eq!(r.r0, 0);
    let pa = m
        .as_any()
        .downcast_ref::<ironbpf_maps::PerfEventArray>()
        .unwrap();
    let recs = pa.read();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].data, 77u64.to_ne_bytes());
}

#[test]
fn skb_bytes_and_checksums() {
    // Load the IPv4 source address (net offset 12 of an L3 socket filter skb).
    let r = run_on(&loaded(Vec::new()), &progtype::SOCKET_FILTER, "r1 = r1\nr2 = 12\nr3 = r10\nr3 += -4\nr4 = 4\ncall bpf_skb_load_bytes\nr0 = *(u32 *)(r10 -4)\nexit\n", packet()[14..].to_vec());
    assert_eq!(r.r0 as u32, u32::from_ne_bytes([10, 0, 0, 1]));
    let r = run_on(&loaded(Vec::new()), &progtype::SCHED_CLS, "r2 = 12\nr3 = r10\nr3 += -4\nr4 = 4\nr5 = 1\ncall bpf_skb_load_bytes_relative\nr0 = *(u32 *)(r10 -4)\nexit\n", packet());
    assert_eq!(
        r.r0 as u32,
        u32::from_ne_bytes([10, 0, 0, 1]),
        "BPF_HDR_START_NET in a tc program"
    );
    // Rewrite the destination address and fix the IP checksum, as a NAT does.
    let new_dst = u32::from_ne_bytes([10, 0, 0, 9]);
    let old_dst = u32::from_ne_bytes([10, 0, 0, 2]);
    let asm = format!(
        "r6 = r1\n*(u32 *)(r10 -4) = {new_dst}\nr1 = r6\nr2 = 30\nr3 = r10\nr3 += -4\nr4 = 4\nr5 = 0\ncall bpf_skb_store_bytes\n\
         r1 = r6\nr2 = 24\nr3 = {old_dst}\nr4 = {new_dst}\nr5 = 4\ncall bpf_l3_csum_replace\nexit\n"
    );
    let r = run_on(&loaded(Vec::new()), &progtype::SCHED_CLS, &asm, packet());
    assert_eq!(r.r0, 0);
    assert_eq!(&r.pkt[30..34], &[10, 0, 0, 9]);
    let sum = r.pkt[14..34]
        .chunks(2)
        .fold(0u32, |s, w| s + u16::from_be_bytes([w[0], w[1]]) as u32);
    assert_eq!(
        (sum & 0xffff) + (sum >> 16),
        0xffff,
        "the header checksums to zero again"
    );
    // l4: the same change against a TCP checksum of 0x1234 at offset 50.
    let mut pkt = packet();
    pkt[50..52].copy_from_slice(&[0x12, 0x34]);
    let asm = format!(
        "r2 = 50\nr3 = {old_dst}\nr4 = {new_dst}\nr5 = 0x14\ncall bpf_l4_csum_replace\nexit\n"
    );
    let r = run_on(&loaded(Vec::new()), &progtype::SCHED_CLS, &asm, pkt);
    assert_eq!(r.r0, 0);
    // 0x1234 - (0x0a00 + 0x0002) + (0x0a00 + 0x0009), in ones' complement: 7 less.
    assert_eq!(u16::from_be_bytes([r.pkt[50], r.pkt[51]]), 0x1234 - 7);
    let r = run_on(
        &loaded(Vec::new()),
        &progtype::SCHED_CLS,
        "r2 = 51\nr3 = 0\nr4 = 0\nr5 = 2\ncall bpf_l4_csum_replace\nexit\n",
        packet(),
    );
    assert_eq!(r.r0 as i64, -14, "an odd offset is -EFAULT");
}

#[test]
fn redirects_are_recorded() {
    let obj = loaded(vec![map("devs", ARRAY, 4, 4, 4)]);
    let r = run_on(
        &obj,
        &progtype::XDP,
        "r1 = 3\nr2 = 0\ncall bpf_redirect\nexit\n",
        packet(),
    );
    assert_eq!(r.r0, 4, "XDP_REDIRECT");
    assert_eq!(
        r.state.redirect,
        Some(Redirect::Ifindex {
            ifindex: 3,
            flags: 0
        })
    );
    let r = run_on(
        &obj,
        &progtype::SCHED_CLS,
        "r1 = 3\nr2 = 1\ncall bpf_redirect\nexit\n",
        packet(),
    );
    assert_eq!(r.r0, 7, "TC_ACT_REDIRECT");
    let r = run_on(
        &obj,
        &progtype::XDP,
        "r1 = map[idx:0]\nr2 = 2\nr3 = 0\ncall bpf_redirect_map\nexit\n",
        packet(),
    );
    assert_eq!(r.r0, 4);
    assert_eq!(
        r.state.redirect,
        Some(Redirect::Map {
            map_id: 0,
            key: 2,
            flags: 0
        })
    );
    let r = run_on(
        &obj,
        &progtype::XDP,
        "r1 = map[idx:0]\nr2 = 9\nr3 = 2\ncall bpf_redirect_map\nexit\n",
        packet(),
    );
    assert_eq!(
        r.r0, 2,
        "a key past the map gives the flags' action (XDP_PASS)"
    );
}

#[test]
fn skb_metadata_as_the_test_run_gives_it() {
    let a = run(&progtype::SCHED_CLS, "call bpf_get_socket_cookie\nexit\n").r0;
    assert!(a > 0);
    // The test run's socket belongs to no file: uid 0.
    assert_eq!(
        run(&progtype::SCHED_CLS, "call bpf_get_socket_uid\nexit\n").r0,
        0
    );
    let h1 = run(&progtype::SCHED_CLS, "call bpf_get_hash_recalc\nexit\n").r0;
    let h2 = run(&progtype::SCHED_CLS, "call bpf_get_hash_recalc\nexit\n").r0;
    assert_eq!(h1, h2, "the same packet hashes the same");
    for call in [
        "bpf_set_hash_invalid",
        "bpf_get_cgroup_classid",
        "bpf_get_route_realm",
    ] {
        assert_eq!(
            run(&progtype::SCHED_CLS, &format!("call {call}\nexit\n")).r0,
            0,
            "{call}"
        );
    }
    assert_eq!(
        run(&progtype::SCHED_CLS, "r2 = 7\ncall bpf_set_hash\nexit\n").r0,
        0
    );
    assert_eq!(
        run(
            &progtype::SCHED_CLS,
            "r2 = 64\ncall bpf_skb_pull_data\nexit\n"
        )
        .r0,
        0
    );
    assert_eq!(
        run(
            &progtype::SCHED_CLS,
            "r2 = 65\ncall bpf_skb_pull_data\nexit\n"
        )
        .r0 as i64,
        -12
    );
    assert_eq!(
        run(&progtype::SCHED_CLS, "r2 = 0\ncall bpf_csum_update\nexit\n").r0 as i64,
        -524
    );
    assert_eq!(
        run(&progtype::SCHED_CLS, "r2 = 0\ncall bpf_csum_level\nexit\n").r0 as i64,
        -13
    );
}

#[test]
fn xdp_bytes() {
    assert_eq!(
        run(&progtype::XDP, "call bpf_xdp_get_buff_len\nexit\n").r0,
        64
    );
    let r = run(&progtype::XDP, "r6 = r1\nr2 = 26\nr3 = r10\nr3 += -8\nr4 = 8\ncall bpf_xdp_load_bytes\n*(u32 *)(r10 -8) = 0x0100a8c0\nr1 = r6\nr2 = 26\nr3 = r10\nr3 += -8\nr4 = 4\ncall bpf_xdp_store_bytes\nexit\n");
    assert_eq!(r.r0, 0);
    assert_eq!(&r.pkt[26..30], &[192, 168, 0, 1]);
    assert_eq!(
        run(
            &progtype::XDP,
            "r2 = 60\nr3 = r10\nr3 += -8\nr4 = 8\ncall bpf_xdp_load_bytes\nexit\n"
        )
        .r0 as i64,
        -22,
        "past the frame: -EINVAL"
    );
}

#[test]
fn func_ip_outside_the_kernel() {
    assert_eq!(run(&progtype::KPROBE, "call bpf_get_func_ip\nexit\n").r0, 0);
}

#[test]
fn check_mtu_and_cgroup_local_storage() {
    // The packet's device (ifindex 0) is the loopback device: MTU 65536,
    // written back; 64 bytes fit, 64 + 65537 do not.
    let mtu = |diff: i64| {
        run(
            &progtype::SCHED_CLS,
            &format!("*(u32 *)(r10 -4) = 0\nr2 = 0\nr3 = r10\nr3 += -4\nr4 = {diff}\nr5 = 0\ncall bpf_check_mtu\nr0 <<= 32\nr1 = *(u32 *)(r10 -4)\nr0 |= r1\nexit\n"),
        )
        .r0
    };
    assert_eq!(mtu(0), 65536);
    assert_eq!(mtu(65537), (1 << 32) | 65536);
    // The storage starts zeroed and keeps what the program writes.
    let obj = loaded(vec![map("st", 19, 8, 8, 0)]);
    let bump = "r1 = map[idx:0]\nr2 = 0\ncall bpf_get_local_storage\nr1 = *(u64 *)(r0 +0)\nr1 += 3\n*(u64 *)(r0 +0) = r1\nr0 = r1\nexit\n";
    assert_eq!(run_on(&obj, &progtype::CGROUP_SKB, bump, packet()).r0, 3);
    assert_eq!(run_on(&obj, &progtype::CGROUP_SKB, bump, packet()).r0, 6);
}
