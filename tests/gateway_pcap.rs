//! The dataplane's golden table (`testkit::golden`) through the `ferrovs` binary: each table
//! is written to pcap files, replayed by `ferrovs run` on DPDK `net_pcap` ports (`rx_pcap` in,
//! `tx_pcap` out), and every frame the workers transmit is compared byte for byte, per case,
//! with the table's expectation. `golden::cases()` runs on one worker, `golden::redirect_cases()`
//! on two (the table's worker 0 of 2 is the gateway's worker 0; what worker 1 sends for the
//! flows redirected to it is compared with `golden::redirect_owner_cases()`).
//!
//! **Order.** The table is a sequence across both ports (a SYN on port 0 makes the session its
//! SYN-ACK on port 1 uses). `net_pcap` hands out an `rx_pcap` file as fast as it is polled, and
//! a worker polls its queue of port 0, then of port 1, taking at most `gateway::BURST` frames
//! from each per loop iteration. So the cases are cut into steps, each a run of port-0 cases
//! then a run of port-1 cases, at most `BURST` of each, and every step fills exactly one burst
//! on each port, padded with filler frames the pipeline drops on sight (LLDP, counted as
//! `unsupported_ethertype`, no state, no output). Iteration k of worker 0 then processes step k,
//! port 0 first: the table order, whatever the timing.
//!
//! **Queues.** The gateway configures workers + 1 queues per port (control owns the last);
//! `net_pcap` has one queue per `rx_pcap` / `tx_pcap` argument. Queue 0 reads the input, the
//! other RX queues an empty file, and every TX queue writes its own file. So workers' frames and
//! control's (gratuitous ARP at start, ARP/ND answers, ARP/ND requests for unresolved
//! backends every second) never mix: the golden comparison reads worker 0's files, which hold
//! nothing else, and control's frames are checked separately (gratuitous ARP for every VIP and
//! local address, the ARP reply and the neighbour advertisement for the NAT VIP, a request for
//! the unresolved backend and none for a static neighbour).
//!
//! **Topology.** The configuration is derived from `golden::snapshot()` (ports, MACs, addresses,
//! services, backends, local addresses, TOA) and `golden::neighbours()` as static
//! `[[neighbour]]` entries, so the backends' MACs are known before the first frame, as the table
//! assumes.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dataplane::session::FwdMethod;
use dataplane::snapshot::{prefix_contains, Mac, Snapshot, ToaMode};
use dataplane::types::L4Proto;
use dataplane::wire::DropReason;
use ferrovs::gateway::BURST;
use testkit::golden::{self, Case, Expect};
use testkit::{diff::diff, pcap};

/// Ports of the golden topology (client side, server side).
const PORTS: usize = 2;
/// How long the outputs must stay unchanged before the gateway is stopped.
const QUIET: Duration = Duration::from_millis(300);
/// The most a replay may take to produce its frames.
const DEADLINE: Duration = Duration::from_secs(30);

/// A frame the pipeline drops without looking further (EtherType LLDP), to fill bursts.
fn filler(port: usize) -> Vec<u8> {
    let mut f = vec![0x01, 0x80, 0xc2, 0, 0, 0x0e];
    f.extend_from_slice(&[2, 0, 0, 0, 0xf1, u8::try_from(port).unwrap_or(0)]);
    f.extend_from_slice(&[0x88, 0xcc]);
    f.resize(60, 0);
    f
}

/// Cut `cases` into lock-step bursts (see the module docs): per port, the frames of its input
/// file, a multiple of `BURST` long. Also return the number of fillers.
fn schedule(cases: &[Case]) -> ([Vec<Vec<u8>>; PORTS], usize) {
    let mut steps: Vec<[Vec<&Case>; PORTS]> = Vec::new();
    for c in cases {
        let p = usize::from(c.in_port);
        assert!(p < PORTS, "{}: in_port {p}", c.name);
        let new_step = steps
            .last()
            .is_none_or(|s| s[p].len() == BURST || (p == 0 && !s[1].is_empty()));
        if new_step {
            steps.push(Default::default());
        }
        steps.last_mut().expect("a step")[p].push(c);
    }
    let mut files: [Vec<Vec<u8>>; PORTS] = Default::default();
    let mut fillers = 0;
    for step in &steps {
        for (p, file) in files.iter_mut().enumerate() {
            file.extend(step[p].iter().map(|c| c.input.clone()));
            let pad = BURST - step[p].len();
            file.extend((0..pad).map(|_| filler(p)));
            fillers += pad;
        }
    }
    (files, fillers)
}

fn mac(m: &Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The gateway configuration of the golden topology: `devices[p]` is port p's vdev spec.
fn config(snap: &Snapshot, devices: &[String], dir: &Path, prefix: &str, workers: usize) -> String {
    let lcores = workers + 1;
    // Map the lcores onto at most two CPUs (CI has two): control and worker 0 apart, further
    // workers beside control, which sleeps when idle.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let lcore_cpus: Vec<String> = (0..lcores).map(|l| (l % cpus).to_string()).collect();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "[dpdk]\nlcores = \"0-{}\"\nlcore_cpus = [{}]\nhugepages = false\nfile_prefix = \"{prefix}\"\n\
         mbufs_per_port = 4095\nsession_capacity = 4096\npersist_capacity = 1024\n\n\
         [control]\nmetrics_listen = \"127.0.0.1:0\"\nadmin_socket = \"{}/admin.sock\"",
        lcores - 1,
        lcore_cpus.join(", "),
        dir.display()
    );
    for (i, (p, dev)) in snap.ports.iter().zip(devices).enumerate() {
        let addrs: Vec<IpAddr> = p
            .addrs4
            .iter()
            .map(|a| IpAddr::V4(*a))
            .chain(p.addrs6.iter().map(|a| IpAddr::V6(*a)))
            .collect();
        let cidrs: Vec<String> = addrs
            .iter()
            .map(|a| {
                let r = snap
                    .routes()
                    .iter()
                    .find(|r| {
                        r.via.is_none()
                            && usize::from(r.port) == i
                            && prefix_contains(r.prefix, r.len, *a)
                    })
                    .unwrap_or_else(|| panic!("no connected route for {a}"));
                format!("\"{a}/{}\"", r.len)
            })
            .collect();
        let _ = writeln!(
            t,
            "\n[[port]]\nname = \"p{i}\"\ndevice = \"{dev}\"\nmtu = {}\naddresses = [{}]\nmac = \"{}\"\n\
             rx_desc = 64\ntx_desc = 64",
            p.mtu,
            cidrs.join(", "),
            mac(&p.mac)
        );
    }
    for (ip, m) in golden::neighbours() {
        let _ = writeln!(
            t,
            "\n[[neighbour]]\naddress = \"{ip}\"\nmac = \"{}\"",
            mac(&m)
        );
    }
    let mut pools: Vec<Vec<IpAddr>> = Vec::new();
    let mut services = String::new();
    for s in snap.services.iter().flatten() {
        assert!(
            s.persistence.is_none() && s.sorry.is_none(),
            "the golden snapshot grew persistence or a sorry server: extend this conversion"
        );
        let proto = match s.proto {
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
        };
        let _ = writeln!(
            services,
            "\n[[service]]\nvip = \"{}\"\nport = {}\nprotocol = \"{proto}\"\nscheduler = \"{}\"",
            s.vip,
            s.port,
            s.scheduler.kind()
        );
        // On by default where it can be (consistent scheduler, DR/TUN): only "off" is said.
        if s.proto == L4Proto::Tcp && s.scheduler.kind().is_consistent() && !s.sloppy_tcp {
            let _ = writeln!(services, "sloppy_tcp = false");
        }
        if !s.laddrs.is_empty() {
            let n = pools
                .iter()
                .position(|p| *p == s.laddrs)
                .unwrap_or_else(|| {
                    pools.push(s.laddrs.clone());
                    pools.len() - 1
                });
            let _ = writeln!(services, "local_address_pool = \"laddr{n}\"");
            if s.proto == L4Proto::Tcp {
                let toa = match s.toa {
                    ToaMode::Off => "off",
                    ToaMode::Syn => "syn",
                    ToaMode::Ack => "ack",
                };
                let _ = writeln!(services, "toa = \"{toa}\"");
            }
        }
        for &b in &s.backends {
            let b = snap.backend(b).expect("backend of a service");
            let forward = match b.method {
                FwdMethod::Dr => "dr",
                FwdMethod::Nat => "nat",
                FwdMethod::Tun => "tun",
                FwdMethod::FullNat => "fullnat",
            };
            let _ = writeln!(
                services,
                "  [[service.real_server]]\n  address = \"{}\"\n  port = {}\n  weight = {}\n  forward = \"{forward}\"",
                b.addr, b.port, b.weight
            );
        }
    }
    for (n, p) in pools.iter().enumerate() {
        let list: Vec<String> = p.iter().map(|a| format!("\"{a}\"")).collect();
        let _ = writeln!(
            t,
            "\n[[local_address_pool]]\nname = \"laddr{n}\"\naddresses = [{}]",
            list.join(", ")
        );
    }
    t.push_str(&services);
    t
}

/// One `ferrovs run` over pcap files; stopped, and its files removed, when dropped.
struct Replay {
    dir: PathBuf,
    prefix: String,
    child: Option<Child>,
    workers: usize,
}

impl Drop for Replay {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // EAL's runtime directory for our prefix only.
        let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(&self.prefix));
        if std::thread::panicking() {
            eprintln!("replay files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// What a replay produced.
struct Outcome {
    /// `sent[port][queue]`: the frames TX queue `queue` of `port` sent (queue `workers` is
    /// control's).
    sent: Vec<Vec<Vec<Vec<u8>>>>,
    /// The gateway's standard output.
    stdout: String,
    /// How many filler frames the input had.
    fillers: usize,
    /// A scrape of `/metrics` taken while the gateway ran (empty if it could not be taken).
    metrics: String,
}

/// Scrape `/metrics` from the gateway whose standard output is in `stdout` (it logs the
/// endpoint's address: `metrics_listen` is port 0 here).
fn scrape(stdout: &Path) -> String {
    use std::io::{Read, Write};
    let text = std::fs::read_to_string(stdout).unwrap_or_default();
    let Some(addr) = text
        .lines()
        .find_map(|l| l.split("metrics on http://").nth(1))
        .and_then(|r| r.split('/').next())
    else {
        return String::new();
    };
    let Ok(mut conn) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let _ =
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut body = String::new();
    let _ = conn.read_to_string(&mut body);
    body
}

impl Replay {
    fn out(&self, port: usize, queue: usize) -> PathBuf {
        self.dir.join(format!("out-p{port}-q{queue}.pcap"))
    }

    /// Frames in every output file (`None` while a record is half written).
    fn counts(&self) -> Option<Vec<Vec<usize>>> {
        (0..PORTS)
            .map(|p| {
                (0..=self.workers)
                    .map(|q| frames_in(&self.out(p, q)))
                    .collect()
            })
            .collect()
    }
}

/// Count the records of a pcap file being written: `net_pcap` flushes its dumper after each
/// TX burst, so until a queue first sends, even the file header may not be there (0 frames);
/// `None` while a record is half written.
fn frames_in(path: &Path) -> Option<usize> {
    let data = std::fs::read(path).ok()?;
    let mut at = 24;
    let mut n = 0;
    while at < data.len() {
        let len = data.get(at + 8..at + 12)?;
        let len = usize::try_from(u32::from_le_bytes(len.try_into().ok()?)).ok()?;
        at += 16 + len;
        n += 1;
    }
    (at == data.len().max(24)).then_some(n)
}

/// Replay `cases` through `ferrovs run` with `workers` workers; return once worker 0 has sent at
/// least the frames the table expects and no output has changed for [`QUIET`], after SIGTERM
/// and a clean exit.
fn replay(tag: &str, cases: &[Case], workers: usize) -> Outcome {
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("ferrovs-pcap-{pid}-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut run = Replay {
        dir: dir.clone(),
        prefix: format!("fvpcap{pid}{tag}"),
        child: None,
        workers,
    };
    let (inputs, fillers) = schedule(cases);
    let empty = dir.join("empty.pcap");
    pcap::write_pcap(&empty, &[]).expect("write pcap");
    let mut devices = Vec::new();
    for (p, frames) in inputs.iter().enumerate() {
        let input = dir.join(format!("in-p{p}.pcap"));
        pcap::write_pcap(&input, frames).expect("write pcap");
        let mut dev = format!("net_pcap{p},rx_pcap={}", input.display());
        for _ in 0..workers {
            let _ = write!(dev, ",rx_pcap={}", empty.display());
        }
        for q in 0..=workers {
            let _ = write!(dev, ",tx_pcap={}", run.out(p, q).display());
        }
        devices.push(dev);
    }
    let cfg = dir.join("gw.toml");
    let text = config(&golden::snapshot(), &devices, &dir, &run.prefix, workers);
    std::fs::write(&cfg, &text).expect("write config");
    let stdout = dir.join("stdout.txt");
    let stderr = dir.join("stderr.txt");
    run.child = Some(
        Command::new(env!("CARGO_BIN_EXE_ferrovs"))
            .args(["run", "--config"])
            .arg(&cfg)
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn ferrovs run"),
    );
    let log = || {
        format!(
            "stdout:\n{}\nstderr:\n{}\nconfig:\n{text}",
            std::fs::read_to_string(&stdout).unwrap_or_default(),
            std::fs::read_to_string(&stderr).unwrap_or_default()
        )
    };

    let expected = golden::outputs(cases, None).len();
    let start = Instant::now();
    let mut last = None;
    let mut since = Instant::now();
    loop {
        if let Some(st) = run.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            panic!("ferrovs run exited early with {st}\n{}", log());
        }
        let now = run.counts();
        let worker0: usize = now.iter().flatten().map(|p| p[0]).sum();
        if now != last {
            last = now;
            since = Instant::now();
        } else if last.is_some() && worker0 >= expected && since.elapsed() >= QUIET {
            break;
        }
        if start.elapsed() > DEADLINE {
            // Stop and compare anyway: the report names the missing frames.
            eprintln!("worker 0 sent {worker0} of {expected} frames within {DEADLINE:?}");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let metrics = scrape(&stdout);
    let status = stop(run.child.as_mut().expect("child"));
    run.child = None;
    assert!(
        status.success(),
        "ferrovs run: exit status {status}\n{}",
        log()
    );
    let sent = (0..PORTS)
        .map(|p| {
            (0..=workers)
                .map(|q| pcap::read_pcap(run.out(p, q)).expect("tx pcap"))
                .collect()
        })
        .collect();
    let stdout = std::fs::read_to_string(&stdout).expect("stdout");
    assert!(stdout.contains("ferrovs: stopped"), "{}", log());
    Outcome {
        sent,
        stdout,
        fillers,
        metrics,
    }
}

/// SIGTERM, then wait (at most 10 s) for the exit status.
fn stop(child: &mut Child) -> ExitStatus {
    let pid = child.id().to_string();
    let ok = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(ok.success(), "kill -TERM {pid}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        assert!(Instant::now() < deadline, "ferrovs did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Compare what `port` sent with the frames `cases` expect there, in order; one message per
/// case that differs, is missing, or per unexpected frame.
fn compare(cases: &[Case], port: usize, got: &[Vec<u8>]) -> Vec<String> {
    let want: Vec<(usize, &Case, &[u8])> = cases
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let on = u8::try_from(port).ok();
            c.expect.sent(on).into_iter().map(move |f| (i, c, f))
        })
        .collect();
    // An unexpected frame that is some case's expected one is named (sent out of order).
    let unexpected = |g: usize, f: &[u8], when: &str| {
        let whose = want
            .iter()
            .find(|x| x.2 == f)
            .map_or(String::new(), |(i, c, _)| {
                format!(" (the frame of #{i} {}, out of order)", c.name)
            });
        format!(
            "port {port}: unexpected frame {g} {when}{whose}:\n{}",
            hex(f)
        )
    };
    let mut out = Vec::new();
    let (mut w, mut g) = (0, 0);
    while w < want.len() || g < got.len() {
        let (i, c, frame) = match want.get(w) {
            Some(x) => *x,
            None => {
                out.push(unexpected(g, &got[g], "after the last expected one"));
                g += 1;
                continue;
            }
        };
        let Some(f) = got.get(g) else {
            out.push(format!("#{i} {}: not sent on port {port}", c.name));
            w += 1;
            continue;
        };
        if f.as_slice() == frame {
            (w, g) = (w + 1, g + 1);
        } else if want[w..].iter().any(|x| x.2 == f.as_slice()) {
            // `f` is a later case's frame: this one never came.
            out.push(format!("#{i} {}: not sent on port {port}", c.name));
            w += 1;
        } else if got[g..].iter().any(|x| x.as_slice() == frame) {
            out.push(unexpected(g, f, &format!("before #{i} {}", c.name)));
            g += 1;
        } else {
            out.push(format!(
                "#{i} {}: frame sent on port {port} differs\n{}",
                c.name,
                diff(frame, f)
            ));
            (w, g) = (w + 1, g + 1);
        }
    }
    out
}

/// A hex dump, 16 bytes a row.
fn hex(f: &[u8]) -> String {
    f.chunks(16)
        .enumerate()
        .map(|(r, row)| {
            let b: Vec<String> = row.iter().map(|x| format!("{x:02x}")).collect();
            format!("{:04x} {}", r * 16, b.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Worker `w`'s counter `name` from the gateway's final statistics line.
fn counter(stdout: &str, w: usize, name: &str) -> u64 {
    let prefix = format!("ferrovs: worker {w}: rx ");
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no statistics for worker {w}:\n{stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .find(|p| p[0] == name)
        .and_then(|p| p[1].parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {line:?}"))
}

/// Worker `w`'s drops for `reason`, from the final `drops:` line (0 when not listed).
fn drops(stdout: &str, w: usize, reason: DropReason) -> u64 {
    let prefix = format!("ferrovs: worker {w}: drops: ");
    stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|l| {
            l.split(", ").find_map(|e| {
                e.strip_prefix(reason.as_str())
                    .and_then(|n| n.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn report(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// An ARP frame as control builds it (60 bytes, zero padding).
fn arp(op: u8, eth_dst: Mac, sha: Mac, spa: [u8; 4], tha: Mac, tpa: [u8; 4]) -> Vec<u8> {
    let mut f = eth_dst.to_vec();
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, op]);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa);
    f.resize(60, 0);
    f
}

fn v4(ip: IpAddr) -> [u8; 4] {
    match ip {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(_) => panic!("{ip} is not IPv4"),
    }
}

/// Check what control sent in the single-worker replay (its TX queue is queue 1).
fn check_control(snap: &Snapshot, sent: &[Vec<Vec<Vec<u8>>>]) -> Vec<String> {
    let mut out = Vec::new();
    let ctl = |p: usize| &sent[p][1];
    let has = |p: usize, f: &[u8]| ctl(p).iter().any(|x| x.as_slice() == f);
    // Gratuitous ARP for every IPv4 VIP and local address, on both ports, at start.
    let mut announced: Vec<IpAddr> = snap
        .services
        .iter()
        .flatten()
        .flat_map(|s| std::iter::once(s.vip).chain(s.laddrs.iter().copied()))
        .filter(IpAddr::is_ipv4)
        .collect();
    announced.sort();
    announced.dedup();
    for (p, port) in snap.ports.iter().enumerate() {
        for ip in &announced {
            let garp = arp(1, [0xff; 6], port.mac, v4(*ip), [0; 6], v4(*ip));
            if !has(p, &garp) {
                out.push(format!("port {p}: no gratuitous ARP for {ip}"));
            }
        }
    }
    // Case "arp request is punted": who-has 198.18.0.103 from the client, answered by control.
    let gw0 = snap.ports[0].mac;
    let reply = arp(
        2,
        golden::CLIENT_MAC,
        gw0,
        [198, 18, 0, 103],
        golden::CLIENT_MAC,
        [198, 18, 0, 50],
    );
    if !has(0, &reply) {
        out.push("port 0: no ARP reply for the VIP 198.18.0.103".into());
    }
    // Case "ipv6 neighbour solicitation is punted": a neighbour advertisement for the VIP, from
    // port 0's MAC to the client's (ICMPv6 type 136, target at offset 62).
    let vip6: IpAddr = "2001:db8::103".parse().expect("v6");
    let IpAddr::V6(t) = vip6 else { unreachable!() };
    let na = ctl(0).iter().any(|f| {
        f.len() >= 78
            && f[0..6] == golden::CLIENT_MAC
            && f[6..12] == gw0
            && f[12..14] == [0x86, 0xdd]
            && f[20] == 58
            && f[54] == 136
            && f[62..78] == t.octets()
    });
    if !na {
        out.push(format!("port 0: no neighbour advertisement for {vip6}"));
    }
    // Resolution: the unresolved backend is asked for; static neighbours are not.
    let gw1 = snap.ports[1].mac;
    let ask = |ip: [u8; 4]| arp(1, [0xff; 6], gw1, [198, 18, 1, 1], [0; 6], ip);
    if !has(1, &ask([198, 18, 1, 26])) {
        out.push("port 1: no ARP request for the unresolved backend 198.18.1.26".into());
    }
    for (ip, _) in golden::neighbours()
        .into_iter()
        .filter(|(ip, _)| ip.is_ipv4())
    {
        if has(1, &ask(v4(ip))) {
            out.push(format!("port 1: ARP request for the static neighbour {ip}"));
        }
    }
    out
}

#[test]
fn golden_cases_through_the_binary() {
    let cases = golden::cases();
    let run = replay("g", &cases, 1);
    let mut failures = Vec::new();
    for p in 0..PORTS {
        failures.extend(compare(&cases, p, &run.sent[p][0]));
    }
    report("golden cases through ferrovs on net_pcap", &failures);
    report(
        "control frames",
        &check_control(&golden::snapshot(), &run.sent),
    );
    let s = &run.stdout;
    let expected = golden::transmitted(&cases);
    assert_eq!(counter(s, 0, "tx"), expected, "worker 0 tx\n{s}");
    // Every filler burst was taken (one case is an LLDP frame too).
    assert_eq!(
        drops(s, 0, DropReason::UnsupportedEthertype),
        run.fillers as u64 + 1,
        "fillers dropped\n{s}"
    );
    assert!(s.contains("steering: single worker"), "{s}");
    for p in 0..PORTS {
        assert!(
            s.contains(&format!("port p{p} reply steering: single")),
            "{s}"
        );
    }
}

#[test]
fn golden_redirect_cases_through_the_binary_on_two_workers() {
    let cases = golden::redirect_cases();
    let run = replay("r", &cases, 2);
    let mut failures = Vec::new();
    for p in 0..PORTS {
        failures.extend(compare(&cases, p, &run.sent[p][0]));
    }
    report(
        "golden redirect cases through ferrovs on net_pcap (worker 0 of 2)",
        &failures,
    );
    let s = &run.stdout;
    // The replay rests on net_pcap having no RSS: worker 0 takes everything.
    assert!(
        s.contains("no RSS on this device: queue 0 gets all traffic"),
        "{s}"
    );
    let redirects = cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Redirect(1)))
        .count() as u64;
    assert_eq!(counter(s, 0, "redirected"), redirects, "worker 0\n{s}");
    assert_eq!(
        counter(s, 0, "tx"),
        golden::transmitted(&cases),
        "worker 0\n{s}"
    );
    // Worker 1 received exactly the redirected frames (its own queues read empty files), and
    // what it forwarded went out on its own TX queues, each frame as the owner's table says.
    assert_eq!(counter(s, 1, "rx"), redirects, "worker 1\n{s}");
    let sent1: usize = run.sent.iter().map(|p| p[1].len()).sum();
    assert_eq!(counter(s, 1, "tx"), sent1 as u64, "worker 1\n{s}");
    assert!(sent1 > 0, "worker 1 forwarded none of the redirected flows");
    let owner = golden::redirect_owner_cases();
    let mut failures = Vec::new();
    for p in 0..PORTS {
        failures.extend(compare(&owner, p, &run.sent[p][1]));
    }
    report(
        "redirected frames through ferrovs on net_pcap (worker 1 of 2, the owner)",
        &failures,
    );
    assert_eq!(sent1, golden::outputs(&owner, None).len(), "worker 1");
    for reason in [DropReason::NoSession, DropReason::IcmpNoSession] {
        let want = owner
            .iter()
            .filter(|c| c.expect == Expect::Drop(reason))
            .count() as u64;
        assert_eq!(drops(s, 1, reason), want, "worker 1 {reason:?}\n{s}");
    }
    assert_eq!(
        drops(s, 0, DropReason::UnsupportedEthertype),
        run.fillers as u64
    );
    // FullNAT reply steering on net_pcap (no rte_flow, no RSS): redirect rings, said per port
    // with the reasons, and exported.
    for p in 0..PORTS {
        let line = s
            .lines()
            .find(|l| l.contains(&format!("port p{p} reply steering: ")))
            .unwrap_or_else(|| panic!("no reply steering line for p{p}\n{s}"));
        assert!(line.contains("reply steering: redirect ("), "{line}");
        assert!(line.contains("rte_flow: "), "{line}");
        assert!(line.contains("RSS-aware: no RSS on this device"), "{line}");
        let sample =
            format!("ferrovs_port_reply_steering_info{{port=\"p{p}\",mode=\"redirect\"}} 1");
        assert!(
            run.metrics.contains(&sample),
            "{sample} not in\n{}",
            run.metrics
        );
    }
    // The port the pools live on was probed for rules and refused them.
    assert!(
        s.lines()
            .any(|l| l.contains("reply steering: redirect")
                && l.contains("rte_flow: rte_flow_validate")),
        "{s}"
    );
}
