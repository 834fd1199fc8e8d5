//! `ferrovs doctor`: check the host for what a DPDK gateway needs and print the fix for each
//! problem.
//!
//! Every check reads files under a root directory (normally `/`), so tests can run the checks
//! against a prepared tree as well as against the real machine.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use dpdk_huge::reach::Reading;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Fine.
    Ok,
    /// Works, but not as well as it could (performance, robustness).
    Warn,
    /// The gateway cannot run (as configured) until this is fixed.
    Fail,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // pad() honours the width the caller asks for.
        f.pad(match self {
            Level::Ok => "ok",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        })
    }
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Short name of the check (`hugepages`, `iommu`, ...).
    pub check: &'static str,
    /// Outcome.
    pub level: Level,
    /// What was found.
    pub message: String,
    /// The command (or setting) that fixes it, when not ok.
    pub fix: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:>4}] {:<12} {}", self.level, self.check, self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n       fix: {fix}")?;
        }
        Ok(())
    }
}

/// What the gateway is expected to use, so checks can be specific.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// Hugepage memory the gateway wants, in MiB (0: running with `--no-huge`).
    pub hugepage_mb: u64,
    /// PCI addresses of the ports (vdevs are not listed).
    pub pci_devices: Vec<String>,
    /// Worker lcores (for the isolation check).
    pub worker_lcores: Vec<u32>,
    /// The DPDK version the binary runs with (e.g. `DPDK 22.11.11`).
    pub dpdk_version: String,
    /// ECMP: BIRD's control socket, checked for a BIRD that answers (`[announce]`).
    pub bird_socket: Option<PathBuf>,
    /// ECMP: ferrovs's routing table, checked for routes that are not ferrovs's.
    pub announce_table: Option<u32>,
}

fn read(root: &Path, p: &str) -> Option<String> {
    fs::read_to_string(root.join(p.trim_start_matches('/'))).ok()
}

fn finding(check: &'static str, level: Level, message: String, fix: Option<String>) -> Finding {
    Finding {
        check,
        level,
        message,
        fix,
    }
}

/// Run every check against the tree under `root`.
pub fn run(root: &Path, expect: &Expect) -> Vec<Finding> {
    vec![
        check_dpdk(&expect.dpdk_version),
        check_root(root),
        check_hugepages(root, expect.hugepage_mb),
        check_hugetlbfs(root, expect.hugepage_mb),
        check_iommu(root, &expect.pci_devices),
        check_isolation(root, &expect.worker_lcores),
        check_memlock(root),
    ]
    .into_iter()
    .chain(check_nics(root, &expect.pci_devices))
    .chain(expect.bird_socket.as_deref().map(check_bird))
    .chain(expect.announce_table.map(check_announce_table))
    .collect()
}

/// ECMP: does a BIRD answer on its control socket? Forwarding does not depend on it, but no
/// router learns this box's VIPs without it.
pub fn check_bird(socket: &Path) -> Finding {
    match crate::announce::bird::probe(socket, std::time::Duration::from_secs(2)) {
        Ok(greeting) => finding("bird", Level::Ok, greeting, None),
        Err(e) => finding(
            "bird",
            Level::Fail,
            format!(
                "{e}: forwarding is not affected, but no router learns this gateway's VIPs \
                 (ferrovs_bird_up is 0)"
            ),
            Some(format!(
                "apt-get install bird2; configure it like examples/bird.conf; systemctl start \
                 bird (or bird -c FILE -s {})",
                socket.display()
            )),
        ),
    }
}

/// ECMP: ferrovs's routing table must hold only ferrovs's routes (the `ferrovs check` rule).
pub fn check_announce_table(table: u32) -> Finding {
    let r = crate::announce::table::RouteTable::open(table).and_then(|mut t| t.foreign());
    match r {
        Ok(f) if f.is_empty() => finding(
            "route-table",
            Level::Ok,
            format!("table {table} holds no route that is not ferrovs's"),
            None,
        ),
        Ok(f) => finding(
            "route-table",
            Level::Fail,
            format!(
                "table {table} is used by something else: {} route(s) not ferrovs's, such as {}",
                f.len(),
                f[0]
            ),
            Some(format!(
                "give [announce] a table of its own (ip route show table {table} lists the \
                 routes)"
            )),
        ),
        Err(e) => finding(
            "route-table",
            Level::Fail,
            format!("table {table}: {e}"),
            Some("run as root, on the gateway".into()),
        ),
    }
}

/// Parse `DPDK 22.11.11` or `22.11.11` into (major, minor).
fn dpdk_major_minor(v: &str) -> Option<(u32, u32)> {
    let v = v.trim().trim_start_matches("DPDK").trim();
    let mut it = v.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn check_dpdk(version: &str) -> Finding {
    match dpdk_major_minor(version) {
        Some(mm) if mm >= (22, 11) => finding("dpdk", Level::Ok, version.to_string(), None),
        Some(_) => finding(
            "dpdk",
            Level::Fail,
            format!("{version} is older than 22.11"),
            Some("apt-get install -y libdpdk-dev dpdk-dev (Debian 12 ships 22.11)".into()),
        ),
        None => finding(
            "dpdk",
            Level::Warn,
            format!("cannot read the DPDK version ({version:?})"),
            None,
        ),
    }
}

fn check_root(root: &Path) -> Finding {
    let uid = read(root, "/proc/self/status").and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
    });
    match uid.as_deref() {
        Some("0") => finding("privileges", Level::Ok, "running as root".into(), None),
        Some(u) => finding(
            "privileges",
            Level::Fail,
            format!("effective uid {u}: DPDK needs root (or CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_IPC_LOCK)"),
            Some("run as root, or under systemd with AmbientCapabilities=CAP_SYS_ADMIN CAP_NET_ADMIN CAP_IPC_LOCK".into()),
        ),
        None => finding("privileges", Level::Warn, "cannot read /proc/self/status".into(), None),
    }
}

/// (page size in kB, total, free) for each hugepage size.
fn hugepage_pools(root: &Path) -> Vec<(u64, u64, u64)> {
    let dir = root.join("sys/kernel/mm/hugepages");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut pools: Vec<(u64, u64, u64)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            let num = |f: &str| {
                fs::read_to_string(e.path().join(f))
                    .ok()?
                    .trim()
                    .parse::<u64>()
                    .ok()
            };
            Some((kb, num("nr_hugepages")?, num("free_hugepages").unwrap_or(0)))
        })
        .collect();
    pools.sort_unstable();
    pools
}

fn check_hugepages(root: &Path, want_mb: u64) -> Finding {
    let pools = hugepage_pools(root);
    let free_mb: u64 = pools.iter().map(|&(kb, _, free)| kb * free / 1024).sum();
    let total_mb: u64 = pools.iter().map(|&(kb, n, _)| kb * n / 1024).sum();
    let pages_2m = want_mb.div_ceil(2).max(1);
    let fix = format!(
        "echo {pages_2m} > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages   \
         (persist: vm.nr_hugepages={pages_2m} in /etc/sysctl.d/ferrovs.conf, or hugepages={pages_2m} on the kernel command line)"
    );
    if want_mb == 0 {
        return finding(
            "hugepages",
            Level::Ok,
            format!("not needed (--no-huge); {total_mb} MiB reserved, {free_mb} MiB free"),
            None,
        );
    }
    if pools.is_empty() {
        return finding(
            "hugepages",
            Level::Fail,
            "the kernel offers no hugepages".into(),
            Some(fix),
        );
    }
    if free_mb < want_mb {
        finding(
            "hugepages",
            Level::Fail,
            format!(
                "{free_mb} MiB of hugepages free ({total_mb} MiB reserved), {want_mb} MiB wanted"
            ),
            Some(fix),
        )
    } else {
        finding(
            "hugepages",
            Level::Ok,
            format!("{free_mb} MiB free of {total_mb} MiB reserved"),
            None,
        )
    }
}

fn check_hugetlbfs(root: &Path, want_mb: u64) -> Finding {
    let mounted = read(root, "/proc/mounts").is_some_and(|m| {
        m.lines()
            .any(|l| l.split_whitespace().nth(2) == Some("hugetlbfs"))
    });
    match (mounted, want_mb) {
        (true, _) => finding("hugetlbfs", Level::Ok, "mounted".into(), None),
        (false, 0) => finding(
            "hugetlbfs",
            Level::Ok,
            "not mounted, not needed (--no-huge)".into(),
            None,
        ),
        (false, _) => finding(
            "hugetlbfs",
            Level::Fail,
            "no hugetlbfs mount".into(),
            Some("mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages".into()),
        ),
    }
}

fn driver_of(root: &Path, pci: &str) -> Option<String> {
    let link = fs::read_link(root.join("sys/bus/pci/devices").join(pci).join("driver")).ok()?;
    link.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// Kernel drivers whose devices DPDK drives without rebinding (bifurcated drivers).
const BIFURCATED: &[&str] = &["mlx5_core", "mlx4_core"];
/// Drivers that hand a device to DPDK.
const DPDK_DRIVERS: &[&str] = &["vfio-pci", "uio_pci_generic", "igb_uio"];

fn check_nics(root: &Path, pci_devices: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    for pci in pci_devices {
        let exists = root.join("sys/bus/pci/devices").join(pci).exists();
        let fix = format!("modprobe vfio-pci && dpdk-devbind.py -b vfio-pci {pci}");
        let f = match (exists, driver_of(root, pci)) {
            (false, _) => finding(
                "nic",
                Level::Fail,
                format!("{pci}: no such PCI device"),
                Some("lspci -D | grep -i ethernet   (use the address it shows)".into()),
            ),
            (true, Some(d)) if DPDK_DRIVERS.contains(&d.as_str()) => {
                finding("nic", Level::Ok, format!("{pci}: bound to {d}"), None)
            }
            (true, Some(d)) if BIFURCATED.contains(&d.as_str()) => finding(
                "nic",
                Level::Ok,
                format!("{pci}: {d} (bifurcated: DPDK uses it as is)"),
                None,
            ),
            (true, Some(d)) => finding(
                "nic",
                Level::Fail,
                format!("{pci}: bound to the kernel driver {d}, not to a DPDK driver"),
                Some(fix),
            ),
            (true, None) => finding(
                "nic",
                Level::Fail,
                format!("{pci}: bound to no driver"),
                Some(fix),
            ),
        };
        out.push(f);
    }
    out
}

fn check_iommu(root: &Path, pci_devices: &[String]) -> Finding {
    let groups = fs::read_dir(root.join("sys/kernel/iommu_groups"))
        .map(|d| d.count())
        .unwrap_or(0);
    let noiommu = read(
        root,
        "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode",
    )
    .is_some_and(|s| s.trim() == "Y");
    if groups > 0 {
        return finding(
            "iommu",
            Level::Ok,
            format!("{groups} IOMMU groups (vfio-pci usable)"),
            None,
        );
    }
    let level = if pci_devices.is_empty() || noiommu {
        Level::Warn
    } else {
        Level::Fail
    };
    finding(
        "iommu",
        level,
        if noiommu {
            "no IOMMU; vfio runs in no-IOMMU mode (no DMA protection)".into()
        } else {
            "no IOMMU groups: vfio-pci cannot take a NIC".into()
        },
        Some(
            "add intel_iommu=on iommu=pt (or amd_iommu=on) to the kernel command line and reboot; \
             on VMs without an IOMMU: echo Y > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode"
                .into(),
        ),
    )
}

/// Parse a CPU list like `2-5,8`.
fn parse_cpu_list(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.trim().parse::<u32>().ok()),
        }
    }
    out
}

fn check_isolation(root: &Path, workers: &[u32]) -> Finding {
    let isolated =
        parse_cpu_list(&read(root, "/sys/devices/system/cpu/isolated").unwrap_or_default());
    let missing: Vec<u32> = workers
        .iter()
        .copied()
        .filter(|c| !isolated.contains(c))
        .collect();
    if workers.is_empty() {
        return finding(
            "isolation",
            Level::Ok,
            format!("isolated CPUs: {isolated:?}"),
            None,
        );
    }
    if missing.is_empty() {
        finding(
            "isolation",
            Level::Ok,
            format!("worker lcores {workers:?} are isolated"),
            None,
        )
    } else {
        let list = missing
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        finding(
            "isolation",
            Level::Warn,
            format!("worker lcores {missing:?} are not isolated: the kernel may schedule tasks on them"),
            Some(format!("add isolcpus={list} nohz_full={list} rcu_nocbs={list} to the kernel command line and reboot")),
        )
    }
}

fn check_memlock(root: &Path) -> Finding {
    let limit = read(root, "/proc/self/limits").and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Max locked memory"))
            .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
    });
    let fix = "ulimit -l unlimited (shell), LimitMEMLOCK=infinity (systemd unit), or \
               '* - memlock unlimited' in /etc/security/limits.conf"
        .to_owned();
    match limit.as_deref() {
        Some("unlimited") => finding("memlock", Level::Ok, "unlimited".into(), None),
        Some(n) => {
            let bytes: u64 = n.parse().unwrap_or(0);
            finding(
                "memlock",
                Level::Warn,
                format!(
                    "locked-memory limit {} KiB: vfio and AF_XDP need more",
                    bytes / 1024
                ),
                Some(fix),
            )
        }
        None => finding(
            "memlock",
            Level::Warn,
            "cannot read the locked-memory limit".into(),
            Some(fix),
        ),
    }
}

/// How many nanoseconds a scattered load may cost beyond a packed one before [`check_tlb`]
/// says the huge pages are translated 4 KiB at a time. 4096 pages scattered over 256 MiB lie
/// in 128 pages of 2 MiB, which a TLB holding 2 MiB entries covers (an STLB hit costs about
/// 2 ns); on a KVM guest backed by 4 KiB pages this check read 11.6-12.0 ns more
/// (`benches/README.md`, "The TLB's reach").
pub const TLB_WALK_NS: f64 = 6.0;

/// Are 2 MiB pages translated as such? A reading of `dpdk_huge::reach::measure`: on a virtual
/// machine whose host backs it with 4 KiB pages they are not, and at 1M sessions and more most
/// lookups walk the page tables: a warning, with the host-side fix. A reading whose buffer
/// was not on huge pages measured nothing, and says why.
pub fn check_tlb(r: &Reading) -> Finding {
    if !r.on_huge_pages() {
        return finding(
            "tlb",
            Level::Warn,
            format!(
                "not measured: its buffer is not on huge pages: {}",
                r.placement.summary()
            ),
            Some(
                "free 128 huge pages of 2 MiB for the check (run it before the gateway takes \
                 its own)"
                    .to_string(),
            ),
        );
    }
    let seen = format!(
        "{} lines scattered over {} MiB of 2 MiB pages: {:.1} ns a load, against {:.1} packed",
        r.pages, r.mib, r.spread_ns, r.packed_ns
    );
    if r.spread_ns - r.packed_ns <= TLB_WALK_NS {
        return finding("tlb", Level::Ok, seen, None);
    }
    finding(
        "tlb",
        Level::Warn,
        format!(
            "2 MiB pages are translated 4 KiB at a time ({seen}): a virtual machine whose host \
             backs its memory with 4 KiB pages; at 1M sessions and more most lookups walk \
             the page tables"
        ),
        Some(
            "back the guest's memory with huge pages on the host (libvirt \
             <memoryBacking><hugepages/></memoryBacking>, QEMU -mem-path on a hugetlbfs mount, \
             Firecracker \"huge_pages\": \"2M\")"
                .to_string(),
        ),
    )
}

/// Return the worst level among the findings.
pub fn worst(findings: &[Finding]) -> Level {
    findings.iter().map(|f| f.level).max().unwrap_or(Level::Ok)
}

/// Return `/`, the root the real checks read.
pub fn system_root() -> PathBuf {
    PathBuf::from("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reading of 4096 pages over 256 MiB, all of it on huge pages unless `huge_bytes` says.
    fn reading(spread_ns: f64, packed_ns: f64, huge_bytes: usize) -> Reading {
        Reading {
            pages: 4096,
            mib: 256,
            spread_ns,
            packed_ns,
            placement: dpdk_huge::Placement {
                huge_bytes,
                normal_bytes: (256 << 20) - huge_bytes,
                reason: if huge_bytes == 256 << 20 { 0 } else { 12 },
            },
        }
    }

    #[test]
    fn tlb_check_warns_when_scattered_huge_pages_walk() {
        // This VM's reading: 16.0 ns scattered against 4.5 packed.
        let f = check_tlb(&reading(16.0, 4.5, 256 << 20));
        assert_eq!((f.check, f.level), ("tlb", Level::Warn));
        assert!(f
            .message
            .starts_with("2 MiB pages are translated 4 KiB at a time"));
        assert!(
            f.message.contains("16.0 ns a load, against 4.5 packed"),
            "{}",
            f.message
        );
        assert!(f.fix.as_deref().is_some_and(|x| x.contains("hugepages")));
    }

    #[test]
    fn tlb_check_is_ok_when_scattered_loads_cost_about_what_packed_ones_do() {
        let f = check_tlb(&reading(4.5 + TLB_WALK_NS, 4.5, 256 << 20));
        assert_eq!(f.level, Level::Ok);
        assert_eq!(f.fix, None);
        assert!(
            f.message.contains("4096 lines scattered over 256 MiB"),
            "{}",
            f.message
        );
    }

    #[test]
    fn tlb_check_says_why_it_measured_nothing() {
        // The pool was empty (ENOMEM): the buffer went on 4 KiB pages.
        let f = check_tlb(&reading(30.0, 4.5, 0));
        assert_eq!(f.level, Level::Warn);
        assert!(
            f.message
                .starts_with("not measured: its buffer is not on huge pages: normal (256 MiB"),
            "{}",
            f.message
        );
        assert!(f.fix.is_some());
    }

    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let p =
                std::env::temp_dir().join(format!("ferrovs-doctor-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Tree(p)
        }
        fn file(&self, path: &str, text: &str) -> &Tree {
            let p = self.0.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
            self
        }
        fn link(&self, path: &str, target: &str) -> &Tree {
            let p = self.0.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, p).unwrap();
            self
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn by_check<'a>(f: &'a [Finding], check: &str) -> Vec<&'a Finding> {
        f.iter().filter(|x| x.check == check).collect()
    }

    #[test]
    fn test_healthy_host_is_all_ok() {
        let t = Tree::new("ok");
        t.file("proc/self/status", "Name:\tx\nUid:\t0\t0\t0\t0\n")
            .file("proc/mounts", "nodev /dev/hugepages hugetlbfs rw 0 0\n")
            .file(
                "proc/self/limits",
                "Max locked memory         unlimited            unlimited            bytes\n",
            )
            .file(
                "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
                "1024\n",
            )
            .file(
                "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages",
                "1024\n",
            )
            .file("sys/kernel/iommu_groups/0/type", "DMA\n")
            .file("sys/devices/system/cpu/isolated", "2-3\n")
            .file("sys/bus/pci/devices/0000:03:00.0/class", "0x020000\n")
            .link(
                "sys/bus/pci/devices/0000:03:00.0/driver",
                "../../../bus/pci/drivers/vfio-pci",
            );
        let expect = Expect {
            hugepage_mb: 1024,
            pci_devices: vec!["0000:03:00.0".into()],
            worker_lcores: vec![2, 3],
            dpdk_version: "DPDK 22.11.11".into(),
            ..Default::default()
        };
        let f = run(&t.0, &expect);
        assert_eq!(worst(&f), Level::Ok, "{f:#?}");
    }

    #[test]
    fn test_each_problem_names_its_fix() {
        let t = Tree::new("bad");
        t.file("proc/self/status", "Uid:\t1000\t1000\t1000\t1000\n")
            .file("proc/mounts", "proc /proc proc rw 0 0\n")
            .file(
                "proc/self/limits",
                "Max locked memory         8388608              8388608              bytes\n",
            )
            .file(
                "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
                "16\n",
            )
            .file(
                "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages",
                "16\n",
            )
            .file("sys/devices/system/cpu/isolated", "\n")
            .file("sys/bus/pci/devices/0000:03:00.0/class", "0x020000\n")
            .link(
                "sys/bus/pci/devices/0000:03:00.0/driver",
                "../../../bus/pci/drivers/ixgbe",
            );
        let expect = Expect {
            hugepage_mb: 1024,
            pci_devices: vec!["0000:03:00.0".into(), "0000:09:00.0".into()],
            worker_lcores: vec![1],
            dpdk_version: "DPDK 21.11.2".into(),
            ..Default::default()
        };
        let f = run(&t.0, &expect);
        let fail = |c: &str| {
            by_check(&f, c)
                .iter()
                .any(|x| x.level == Level::Fail && x.fix.is_some())
        };
        assert!(fail("dpdk"));
        assert!(fail("privileges"));
        assert!(fail("hugepages"));
        assert!(by_check(&f, "hugepages")[0]
            .fix
            .as_ref()
            .unwrap()
            .contains("echo 512 >"));
        assert!(fail("hugetlbfs"));
        assert!(fail("iommu"));
        let nics = by_check(&f, "nic");
        assert_eq!(nics.len(), 2);
        assert!(nics[0].message.contains("ixgbe"));
        assert!(nics[0]
            .fix
            .as_ref()
            .unwrap()
            .contains("dpdk-devbind.py -b vfio-pci 0000:03:00.0"));
        assert!(nics[1].message.contains("no such PCI device"));
        let iso = by_check(&f, "isolation")[0];
        assert_eq!(iso.level, Level::Warn);
        assert!(iso.fix.as_ref().unwrap().contains("isolcpus=1"));
        assert_eq!(by_check(&f, "memlock")[0].level, Level::Warn);
        assert_eq!(worst(&f), Level::Fail);
    }

    #[test]
    fn test_no_huge_needs_no_hugepages() {
        let t = Tree::new("nohuge");
        t.file("proc/mounts", "");
        let f = run(
            &t.0,
            &Expect {
                dpdk_version: "DPDK 22.11.1".into(),
                ..Default::default()
            },
        );
        assert_eq!(by_check(&f, "hugepages")[0].level, Level::Ok);
        assert_eq!(by_check(&f, "hugetlbfs")[0].level, Level::Ok);
    }

    #[test]
    fn test_bird_absent_fails_with_its_fix_and_present_is_ok() {
        let t = Tree::new("bird");
        let sock = t.0.join("bird.ctl");
        let f = check_bird(&sock);
        assert_eq!(f.level, Level::Fail, "{f}");
        assert!(f.message.contains("forwarding is not affected"), "{f}");
        assert!(f.fix.as_ref().is_some_and(|x| x.contains("bird2")), "{f}");
        let l = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
        let server = std::thread::spawn(move || {
            use std::io::Write;
            let (mut s, _) = l.accept().expect("accept");
            s.write_all(b"0001 BIRD 2.0.12 ready.\n").expect("write");
        });
        let f = check_bird(&sock);
        assert_eq!(f.level, Level::Ok, "{f}");
        assert_eq!(f.message, "BIRD 2.0.12 ready.");
        server.join().expect("server");
    }

    #[test]
    fn test_cpu_list_parsing() {
        assert_eq!(parse_cpu_list("0-2,5, 7-8\n"), vec![0, 1, 2, 5, 7, 8]);
        assert_eq!(parse_cpu_list(""), Vec::<u32>::new());
        assert_eq!(parse_cpu_list("x,3"), vec![3]);
    }

    #[test]
    fn test_runs_on_this_machine_without_panicking() {
        let f = run(
            &system_root(),
            &Expect {
                hugepage_mb: 64,
                dpdk_version: "22.11".into(),
                ..Default::default()
            },
        );
        assert!(f.len() >= 7);
        for x in &f {
            assert!(x.level == Level::Ok || x.fix.is_some(), "{x}");
        }
    }
}
