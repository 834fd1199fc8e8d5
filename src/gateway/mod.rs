//! `ferrovs run`: DPDK ports wired to dataplane workers, with control on the main lcore.
//!
//! Threads (DESIGN §2): one worker per worker lcore polls its RX queue on every port, runs the
//! dataplane pipeline, and sends on its own TX queue of each port; what it does not handle goes
//! to control through its punt ring, and packets whose session lives on another worker go there
//! through a redirect ring (one SP/SC ring per ordered pair of workers). Control, on the main
//! lcore, answers ARP/ND, learns and resolves neighbours, publishes snapshots (arc-swap) and
//! owns one extra TX queue per port for the frames it originates.

mod admin;
mod steer;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use config::Config;
use control::health::{BackendHealth, HealthChecker};
use control::metrics::{
    self, collect, server::MetricsServer, MetricsView, PortRow, PortSteeringRow, ReloadStats,
};
use control::neigh::{self, Neighbours};
use control::topology;
use dataplane::counters::WorkerCounters;
use dataplane::io::PortMap;
use dataplane::pipeline::{Worker, WorkerConfig};
use dataplane::snapshot::{Mac, Snapshot};
use dataplane::wire::DropReason;
use dataplane::worker_loop::{self, IdleMode, LoopEnv};
use dpdk::eal::{rdtsc, Eal};
use dpdk::ethdev::{Port, PortConfig, RssConfig, RxQueue, TxQueue};
use dpdk::mbuf::Mbuf;
use dpdk::mempool::{Mempool, DEFAULT_DATA_ROOM};
use dpdk::{lcore, ring};

/// RX burst size (l3fwd's): the most frames a worker takes from one queue per loop iteration.
/// Public because the `net_pcap` replay test (`tests/gateway_pcap.rs`) schedules its input by
/// it: a worker polls its queue of port 0, then of port 1, one burst each per iteration.
pub const BURST: usize = worker_loop::BURST;
/// Slots in each punt and redirect ring.
const RING_SIZE: u32 = 1024;
/// How often control re-sends resolution requests for unresolved neighbours.
const RESOLVE_EVERY: Duration = Duration::from_secs(1);

/// The RSS key ferrovs programs (Microsoft's verification key, the common default): known, so
/// the RSS-aware local-port choice can predict where replies land.
pub const RSS_KEY: [u8; 40] = dataplane::rss::DEFAULT_KEY;

/// Build the EAL argument list for `cfg`.
pub fn eal_args(cfg: &Config) -> Vec<String> {
    let d = &cfg.dpdk;
    let lcores: Vec<String> = d.lcores.iter().map(u32::to_string).collect();
    let mut a = vec!["ferrovs".to_owned()];
    if d.lcore_cpus.is_empty() {
        a.push("-l".to_owned());
        a.push(lcores.join(","));
    } else {
        let map: Vec<String> = d
            .lcores
            .iter()
            .zip(&d.lcore_cpus)
            .map(|(l, c)| format!("{l}@{c}"))
            .collect();
        a.push(format!("--lcores={}", map.join(",")));
    }
    a.extend([
        "--main-lcore".to_owned(),
        d.main_lcore.to_string(),
        "--file-prefix".to_owned(),
        d.file_prefix.clone(),
    ]);
    if !d.hugepages {
        a.push("--no-huge".to_owned());
    }
    let memory = d.memory_mb.or_else(|| {
        // Without hugepages EAL takes 64 MiB unless told: size it for the mbuf pools.
        (!d.hugepages).then(|| {
            let per_port = u64::from(d.mbufs_per_port) * u64::from(DEFAULT_DATA_ROOM + 256);
            u32::try_from(per_port * cfg.ports.len() as u64 / (1 << 20) + 128).unwrap_or(u32::MAX)
        })
    });
    if let Some(m) = memory {
        a.push("-m".to_owned());
        a.push(m.to_string());
    }
    if !cfg.ports.iter().any(|p| looks_pci(&p.device)) {
        a.push("--no-pci".to_owned());
    }
    a.extend(d.extra_eal_args.iter().cloned());
    a
}

fn looks_pci(device: &str) -> bool {
    let name = device.split(',').next().unwrap_or(device);
    name.contains(':') && name.contains('.')
}

/// The queues and rings one worker owns, on DPDK.
type WorkerIo = worker_loop::WorkerIo<RxQueue, TxQueue, ring::Producer, ring::Consumer>;

/// The worker loop's idle behaviour for `[dpdk] idle`.
fn idle_mode(idle: config::Idle) -> IdleMode {
    match idle {
        config::Idle::Busy => IdleMode::Busy,
        config::Idle::Sleep => IdleMode::Sleep,
    }
}

/// What the process asks of the running gateway (set from signal handlers).
#[derive(Clone, Debug, Default)]
pub struct Signals {
    /// SIGINT/SIGTERM: stop.
    pub stop: Arc<AtomicBool>,
    /// SIGHUP: reload the configuration file.
    pub reload: Arc<AtomicBool>,
}

/// Run the gateway until `signals.stop` is set. `path` is the configuration file `cfg` came
/// from, re-read on reload. Returns once every worker has stopped and every port is closed.
///
/// # Errors
/// EAL, port or lcore set-up failures, each naming what failed.
pub fn run(cfg: Config, path: std::path::PathBuf, signals: &Signals) -> Result<(), String> {
    let eal = Eal::init(eal_args(&cfg)).map_err(|e| format!("DPDK EAL: {e}"))?;
    let result = run_with_eal(&eal, cfg, path, signals);
    // Ports and pools are dropped inside run_with_eal; release hugepage files and devices.
    if let Err(e) = eal.cleanup() {
        eprintln!("ferrovs: EAL cleanup: {e}");
    }
    result
}

fn run_with_eal(
    eal: &Eal,
    cfg: Config,
    path: std::path::PathBuf,
    signals: &Signals,
) -> Result<(), String> {
    let stop = &signals.stop;
    let cfg_owned = cfg;
    let cfg = &cfg_owned;
    let workers = lcore::workers(eal);
    let wanted: Vec<u32> = cfg.dpdk.worker_lcores.clone();
    let worker_lcores: Vec<lcore::LcoreId> = workers
        .into_iter()
        .filter(|l| wanted.contains(&l.0))
        .collect();
    if worker_lcores.is_empty() {
        return Err(
            "no worker lcore: give [dpdk] lcores at least two cores (one control, one worker)"
                .into(),
        );
    }
    let nw = u16::try_from(worker_lcores.len()).map_err(|_| "too many workers")?;
    let mbufs = cfg
        .dpdk
        .mbufs_per_port
        .saturating_mul(u32::try_from(cfg.ports.len()).unwrap_or(1));
    let pool = Arc::new(
        Mempool::new(eal, "ferrovs_mbufs", mbufs, 256, DEFAULT_DATA_ROOM, None).map_err(|e| {
            format!("mbuf pool of {mbufs}: {e} (more memory: [dpdk] memory_mb, or hugepages)")
        })?,
    );

    // Ports: one RX and one TX queue per worker, plus control's TX queue.
    let mut ports = Vec::new();
    let mut macs: Vec<Mac> = Vec::new();
    let mut io: Vec<(Vec<RxQueue>, Vec<TxQueue>)> =
        (0..nw).map(|_| (Vec::new(), Vec::new())).collect();
    let mut control_tx = Vec::new();
    let mut control_rx: Vec<RxQueue> = Vec::new();
    let mut map = Vec::new();
    let (mut probes, mut carries) = (Vec::new(), Vec::new());
    for (pi, pc) in cfg.ports.iter().enumerate() {
        let mut port = Port::probe(eal, &pc.device)
            .map_err(|e| format!("port {} ({}): {e}", pc.name, pc.device))?;
        let info = port.info().map_err(|e| format!("port {}: {e}", pc.name))?;
        if info.max_rx_queues < nw || info.max_tx_queues < nw + 1 {
            return Err(format!(
                "port {} ({}): {} workers need {} RX and {} TX queues; the device has {} and {}",
                pc.name,
                info.driver_name,
                nw,
                nw,
                nw + 1,
                info.max_rx_queues,
                info.max_tx_queues
            ));
        }
        let rss = (nw > 1 && info.flow_type_rss_offloads != 0).then(|| RssConfig {
            key: if info.hash_key_size as usize == RSS_KEY.len() {
                RSS_KEY.to_vec()
            } else {
                Vec::new()
            },
            hash_functions: dpdk_sys_rss_ip_tcp_udp(),
        });
        let steering = if nw == 1 {
            "single worker: no steering needed".to_owned()
        } else if rss.is_some() {
            "RSS spreads new flows; FullNAT replies as chosen below".to_owned()
        } else {
            "no RSS on this device: queue 0 gets all traffic; FullNAT replies as chosen below"
                .to_owned()
        };
        // Control owns queue `nw` in both directions: peers that pair queues (memif) need equal
        // counts, and the RSS redirection table below leaves it out, so no flow lands there.
        let has_rss = rss.is_some();
        port.configure(&PortConfig {
            rx_queues: nw + 1,
            tx_queues: nw + 1,
            rss,
            ..Default::default()
        })
        .map_err(|e| format!("port {}: configure: {e}", pc.name))?;
        let mut reta_set = None;
        if has_rss && info.reta_size > 0 {
            let reta: Vec<u16> = (0..info.reta_size).map(|i| i % nw).collect();
            port.set_reta(&reta)
                .map_err(|e| format!("port {}: RSS redirection table: {e}", pc.name))?;
            reta_set = Some(reta);
        }
        for w in 0..nw {
            let rx = port
                .rx_queue_setup(w, pc.rx_desc, &pool)
                .map_err(|e| format!("port {} rx queue {w}: {e}", pc.name))?;
            let tx = port
                .tx_queue_setup(w, pc.tx_desc)
                .map_err(|e| format!("port {} tx queue {w}: {e}", pc.name))?;
            io[usize::from(w)].0.push(rx);
            io[usize::from(w)].1.push(tx);
        }
        control_rx.push(
            port.rx_queue_setup(nw, pc.rx_desc, &pool)
                .map_err(|e| format!("port {} control rx queue: {e}", pc.name))?,
        );
        control_tx.push(
            port.tx_queue_setup(nw, pc.tx_desc)
                .map_err(|e| format!("port {} control tx queue: {e}", pc.name))?,
        );
        let _ = port.promiscuous_enable();
        port.start()
            .map_err(|e| format!("port {}: start: {e}", pc.name))?;
        let mac = pc
            .mac
            .map(|m| m.0)
            .or_else(|| port.mac_addr().ok())
            .unwrap_or_default();
        println!(
            "ferrovs: port {} = {} ({}), mac {}, {} RX/TX queues; steering: {}",
            pc.name,
            pc.device,
            info.driver_name,
            fmt_mac(&mac),
            nw,
            steering
        );
        let laddrs = steer::laddrs_on(cfg, &pc.name);
        carries.push(!laddrs.is_empty());
        probes.push(steer::probe(&port, &info, &laddrs, nw, reta_set.as_deref()));
        map.push((port.id().0, u8::try_from(pi).unwrap_or(u8::MAX)));
        macs.push(mac);
        ports.push(port);
    }
    let map = PortMap::new(map);
    // FullNAT reply steering: one choice for all ports, one line per port (DESIGN §5).
    let port_names: Vec<String> = cfg.ports.iter().map(|p| p.name.clone()).collect();
    let mut plan = steer::decide(&probes, &carries, nw);
    let flow_rules = plan.install(&ports, &port_names);
    let steering_rows = plan.rows(&port_names);
    let taps = exception_paths(eal, cfg, &macs, &pool)?;

    // Rings.
    let mut punt_rx = Vec::new();
    let mut punts = Vec::new();
    for w in 0..nw {
        let (p, c) =
            ring::mbuf_ring(eal, &format!("fv_punt{w}"), RING_SIZE).map_err(|e| e.to_string())?;
        punts.push(Some(p));
        punt_rx.push(c);
    }
    let mut inject = Vec::new();
    let mut inject_in = Vec::new();
    for w in 0..nw {
        let (p, c) =
            ring::mbuf_ring(eal, &format!("fv_inj{w}"), RING_SIZE).map_err(|e| e.to_string())?;
        inject.push(p);
        inject_in.push(Some(c));
    }
    let mut redirect_out: Vec<Vec<Option<ring::Producer>>> =
        (0..nw).map(|_| (0..nw).map(|_| None).collect()).collect();
    let mut redirect_in: Vec<Vec<ring::Consumer>> = (0..nw).map(|_| Vec::new()).collect();
    for from in 0..nw {
        for to in 0..nw {
            if from != to {
                let (p, c) = ring::mbuf_ring(eal, &format!("fv_rd{from}_{to}"), RING_SIZE)
                    .map_err(|e| e.to_string())?;
                redirect_out[usize::from(from)][usize::from(to)] = Some(p);
                redirect_in[usize::from(to)].push(c);
            }
        }
    }

    // Room for services and real servers added at run time (reloads, ferrovsadm): ids index
    // the workers' counter arrays, sized now.
    let max_services = (cfg.services.len() * 2).max(MIN_SERVICE_IDS);
    let max_backends = (cfg
        .services
        .iter()
        .map(|s| s.real_servers.len() + 1)
        .sum::<usize>()
        * 2)
    .max(MIN_BACKEND_IDS);
    let mut ids = topology::Ids::new(max_services, max_backends);
    ids.assign(cfg)?;
    let neighbours = Neighbours::default();
    let shared = Arc::new(ArcSwap::from_pointee(topology::build(
        cfg,
        &macs,
        &neighbours,
        1,
        &ids,
        &|_, _| BackendHealth::Unchecked,
    )));
    let timeouts = topology::timeouts(cfg)?;
    // The admin socket and the metrics endpoint come up before any worker: a path or address
    // that cannot be bound stops the start with the reason, nothing half-running.
    let admin_server = ::admin::server::AdminServer::bind(&cfg.control.admin_socket)
        .map_err(|e| format!("admin socket {}: {e}", cfg.control.admin_socket))?;

    // Launch workers.
    let clock = eal.tsc_clock();
    let idle = idle_mode(cfg.dpdk.idle);
    let mut jobs = Vec::new();
    let mut counters: Vec<Arc<WorkerCounters>> = Vec::new();
    let mut dumps: Vec<Arc<admin::ConnDump>> = Vec::new();
    let mut redirect_out = redirect_out.into_iter();
    let mut redirect_in = redirect_in.into_iter();
    for (w, ((rx, tx), lc)) in io.into_iter().zip(&worker_lcores).enumerate() {
        let wcfg = WorkerConfig {
            id: u16::try_from(w).unwrap_or(0),
            workers: nw,
            sessions4: cfg.dpdk.session_capacity as usize,
            sessions6: (cfg.dpdk.session_capacity as usize / 4).max(1024),
            templates: cfg.dpdk.persist_capacity as usize,
            max_services,
            max_backends,
            seed: rdtsc() ^ (w as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            timeouts,
            reply_steering: plan.steering.clone(),
            ..WorkerConfig::default()
        };
        let worker = Worker::new(wcfg);
        counters.push(worker.counters().clone());
        let mut wio = WorkerIo {
            rx,
            tx,
            punt: punts[w].take().ok_or("punt ring")?,
            redirect_out: redirect_out.next().unwrap_or_default(),
            redirect_in: redirect_in.next().unwrap_or_default(),
            inject_in: inject_in[w].take().ok_or("inject ring")?,
        };
        // Session dumps for `ferrovsadm -L -c`, served from the loop between bursts.
        let dump = Arc::new(admin::ConnDump::default());
        dumps.push(dump.clone());
        let (shared, stop, map) = (shared.clone(), stop.clone(), map.clone());
        let job = lcore::launch(eal, *lc, move || {
            let mut worker = worker;
            let env = LoopEnv {
                shared: &shared,
                stop: &stop,
                ports: &map,
                clock,
                idle,
            };
            let mut serve_dump = |w: &Worker, now: u32| dump.serve(w, now);
            worker_loop::run(&mut worker, &mut wio, &env, &mut serve_dump);
            0
        })
        .map_err(|e| format!("launch worker on lcore {}: {e}", lc.0))?;
        jobs.push(job);
    }
    println!(
        "ferrovs: running {} worker(s) on lcores {:?}; control on lcore {}",
        nw, cfg.dpdk.worker_lcores, cfg.dpdk.main_lcore
    );
    notify_systemd("READY=1");

    // Health checks run on their own threads; control applies their verdicts.
    let health = HealthChecker::start(cfg);
    let reload_stats = Arc::new(ReloadStats::new());
    let xstats: Arc<std::sync::Mutex<Vec<PortRow>>> = Arc::default();
    let metrics_server = start_metrics(
        cfg,
        &shared,
        &counters,
        &health,
        &reload_stats,
        &xstats,
        steering_rows,
    )?;

    // Control loop.
    let mut ctl = Control {
        cfg: cfg_owned.clone(),
        path,
        ids,
        health,
        reload_stats,
        admin_stats: admin::Stats::default(),
        dumps,
        neighbours,
        generation: 1,
        shared,
        counters: counters.clone(),
        macs: &macs,
        pool: &pool,
        tx: control_tx,
        map: &map,
        inject_bufs: (0..inject.len())
            .map(|_| Vec::with_capacity(BURST))
            .collect(),
        inject,
        held: VecDeque::new(),
        taps,
        stats: ControlStats::default(),
    };
    let vips = ctl.cfg.services.iter().map(|s| s.vip).collect::<Vec<_>>();
    ctl.announce(&vips);
    let mut last_resolve: Option<Instant> = None;
    let mut buf: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut last_stats = Instant::now();
    let mut last_rates: Option<Instant> = None;
    // Health verdicts count from the start (servers start up, as keepalived's do).
    ctl.publish();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let mut changed = false;
        let mut busy = false;
        if signals.reload.swap(false, Ordering::Relaxed) {
            // The outcome is logged by reload_file.
            let _ = ctl.reload_file();
        }
        while let Some(p) = admin_server.poll() {
            busy = true;
            let response = ::admin::handler::handle(&mut ctl, p.request);
            p.responder.respond(response);
        }
        if !ctl.health.poll().is_empty() {
            // The checker logged each transition; the snapshot takes the new verdicts.
            changed = true;
        }
        for c in &mut punt_rx {
            c.dequeue_burst(&mut buf);
        }
        let snap = ctl.shared.load_full();
        for m in buf.drain(..) {
            busy = true;
            changed |= ctl.punted(m, &snap, now);
        }
        // Control's own RX queues: peers that spread flows over every queue (AF_PACKET fanout,
        // memif queue pairs) deliver data here too; a worker runs it through the pipeline and
        // punts back what is control's.
        for q in &mut control_rx {
            q.rx_burst(&mut buf);
        }
        if !buf.is_empty() {
            busy = true;
            ctl.inject(&mut buf);
        }
        busy |= ctl.forward_from_kernel(&mut buf);
        if last_resolve.is_none_or(|t| now.duration_since(t) >= RESOLVE_EVERY) {
            last_resolve = Some(now);
            changed |= ctl.neighbours.expire(now);
            ctl.resolve(&snap, now);
            ctl.expire_held(now);
        }
        if changed {
            ctl.publish();
            // Frames that waited for a neighbour go back through the pipeline on the new
            // snapshot; those still unresolved come back and wait again, until they time out.
            ctl.release_held();
        }
        if last_rates.is_none_or(|t| now.duration_since(t) >= admin::RATE_EVERY) {
            last_rates = Some(now);
            let blocks = ctl.blocks();
            ctl.admin_stats.estimate(&counters, &blocks);
            // xstats are read here, on control, and handed to the metrics thread.
            let rows: Vec<PortRow> = ports
                .iter()
                .zip(&cfg.ports)
                .map(|(p, pc)| PortRow {
                    name: pc.name.clone(),
                    xstats: p.xstats().unwrap_or_default(),
                })
                .collect();
            if let Ok(mut x) = xstats.lock() {
                *x = rows;
            }
        }
        if now.duration_since(last_stats) >= Duration::from_secs(10) {
            last_stats = now;
            log_stats(&counters, &ctl.stats);
        }
        if !busy {
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    println!("ferrovs: stopping");
    notify_systemd("STOPPING=1");
    metrics_server.stop();
    drop(admin_server);
    for j in jobs {
        j.join();
    }
    log_stats(&counters, &ctl.stats);
    // Take the checker out and drop the rest of control here, so its TX queues, inject rings
    // and held frames are gone before the ports close and the mempool is freed.
    let health = {
        let c = ctl;
        let Control { health, .. } = c;
        health
    };
    health.stop();
    drop(punt_rx);
    drop(control_rx);
    steer::remove(&ports, flow_rules);
    for mut p in ports {
        if let Err(e) = p.stop() {
            eprintln!("ferrovs: port {}: {e}", p.name());
        }
    }
    println!("ferrovs: stopped");
    Ok(())
}

/// Start the Prometheus endpoint; its scrapes read the workers' counters (no locks on their
/// side), the published snapshot, the health status and the xstats control caches.
fn start_metrics(
    cfg: &Config,
    shared: &Arc<ArcSwap<Snapshot>>,
    counters: &[Arc<WorkerCounters>],
    health: &HealthChecker,
    reloads: &Arc<ReloadStats>,
    xstats: &Arc<std::sync::Mutex<Vec<PortRow>>>,
    reply_steering: Vec<PortSteeringRow>,
) -> Result<MetricsServer, String> {
    let shared = shared.clone();
    let workers = counters.to_vec();
    let health_status = health.status_handle();
    let reloads = reloads.clone();
    let xstats = xstats.clone();
    let start = std::time::SystemTime::now();
    let cap4 = u64::from(cfg.dpdk.session_capacity);
    let cap6 = u64::from(cfg.dpdk.session_capacity / 4).max(1024);
    let source = Arc::new(move || {
        let snap = shared.load();
        let checks = health_status.status();
        let (services, real_servers) = collect::traffic_rows(&snap, &workers, Some(&checks));
        let mut view = MetricsView {
            start_time_seconds: metrics::unix_seconds(start),
            reload: reloads.status(snap.generation),
            services,
            real_servers,
            workers: collect::worker_rows(&workers, cap4, cap6),
            ports: xstats.lock().map(|x| x.clone()).unwrap_or_default(),
            reply_steering: reply_steering.clone(),
            health: checks,
            ..MetricsView::default()
        };
        view.build.dpdk_version = dpdk::version().to_owned();
        metrics::render(&view)
    });
    let server = MetricsServer::start(cfg.control.metrics_listen, source)
        .map_err(|e| format!("metrics endpoint {}: {e}", cfg.control.metrics_listen))?;
    println!(
        "ferrovs: metrics on http://{}/metrics; admin socket {}",
        server.local_addr(),
        cfg.control.admin_socket
    );
    Ok(server)
}

/// A port's exception path: a kernel TAP interface (DPDK `net_tap`) with the port's MAC and
/// addresses, which control bridges to the wire.
struct Tap {
    rx: RxQueue,
    tx: TxQueue,
    /// Declared last: queues drop first, then the port closes and the kernel interface goes.
    _port: Port,
}

/// Create the exception-path TAP of every port that has one.
fn exception_paths(
    eal: &Eal,
    cfg: &Config,
    macs: &[Mac],
    pool: &Arc<Mempool>,
) -> Result<Vec<Option<Tap>>, String> {
    let mut out = Vec::new();
    for (i, pc) in cfg.ports.iter().enumerate() {
        let Some(name) = &pc.exception_path else {
            out.push(None);
            continue;
        };
        let mac = fmt_mac(macs.get(i).unwrap_or(&[0; 6]));
        let spec = format!("net_tap{i},iface={name},mac={mac}");
        let mut port = Port::probe(eal, &spec)
            .map_err(|e| format!("port {}: exception path TAP {name}: {e}", pc.name))?;
        port.configure(&PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            ..Default::default()
        })
        .map_err(|e| format!("port {}: exception path {name}: configure: {e}", pc.name))?;
        let rx = port
            .rx_queue_setup(0, 512, pool)
            .map_err(|e| format!("exception path {name}: {e}"))?;
        let tx = port
            .tx_queue_setup(0, 512)
            .map_err(|e| format!("exception path {name}: {e}"))?;
        port.start()
            .map_err(|e| format!("exception path {name}: start: {e}"))?;
        // The kernel side: up, with the port's addresses, so its stack answers for them.
        let mut cmds = vec![vec!["link", "set", "dev", name.as_str(), "up"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()];
        for a in &pc.addresses {
            let mut c: Vec<String> = vec!["addr".into(), "replace".into(), a.to_string()];
            c.extend(["dev".into(), name.clone()]);
            if a.addr.is_ipv6() {
                c.push("nodad".into());
            }
            cmds.push(c);
        }
        for c in cmds {
            let st = std::process::Command::new("ip")
                .args(&c)
                .output()
                .map_err(|e| format!("exception path {name}: ip {}: {e}", c.join(" ")))?;
            if !st.status.success() {
                return Err(format!(
                    "exception path {name}: ip {}: {}",
                    c.join(" "),
                    String::from_utf8_lossy(&st.stderr).trim()
                ));
            }
        }
        println!(
            "ferrovs: port {}: exception path {name} (kernel TAP, mac {mac})",
            pc.name
        );
        out.push(Some(Tap {
            rx,
            tx,
            _port: port,
        }));
    }
    Ok(out)
}

fn dpdk_sys_rss_ip_tcp_udp() -> u64 {
    dpdk::ethdev::RSS_IP | dpdk::ethdev::RSS_TCP | dpdk::ethdev::RSS_UDP
}

fn fmt_mac(m: &Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn log_stats(counters: &[Arc<WorkerCounters>], ctl: &ControlStats) {
    for (w, c) in counters.iter().enumerate() {
        let drops: u64 = c.drops.iter().map(dataplane::counters::Counter::get).sum();
        println!(
            "ferrovs: worker {w}: rx {} tx {} punted {} redirected {} dropped {} sessions {}",
            c.rx.get(),
            c.tx.get(),
            c.punted.get(),
            c.redirected.get(),
            drops,
            c.sessions_created.get() - c.sessions_expired.get()
        );
        let by_reason: Vec<String> = DropReason::ALL
            .iter()
            .filter_map(|r| {
                let n = c.drops[r.index()].get();
                (n > 0).then(|| format!("{} {n}", r.as_str()))
            })
            .collect();
        if !by_reason.is_empty() {
            println!("ferrovs: worker {w}: drops: {}", by_reason.join(", "));
        }
    }
    println!(
        "ferrovs: control: injected {} (dropped {}), held for a neighbour {} (timed out {}, \
         overflow {}), exception path: to kernel {} from kernel {}, dropped without one {}",
        ctl.injected,
        ctl.inject_dropped,
        ctl.held,
        ctl.held_timeout,
        ctl.held_overflow,
        ctl.to_kernel,
        ctl.from_kernel,
        ctl.local_dropped
    );
}

/// Tell systemd (Type=notify) about our state, if it started us.
fn notify_systemd(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let _ = sock.send_to(state.as_bytes(), path);
}

/// Services and real servers the id tables hold at least (runtime additions).
const MIN_SERVICE_IDS: usize = 256;
const MIN_BACKEND_IDS: usize = 4096;
/// How long a reload waits for every worker to take the new snapshot.
const CONFIRM_WITHIN: Duration = Duration::from_secs(2);

/// Frames held while their next hop resolves, at most (DESIGN §7: bounded; beyond it, drop).
const HELD_MAX: usize = 256;
/// How long a held frame waits for its neighbour.
const HELD_FOR: Duration = Duration::from_secs(3);

/// Control's own counts (single thread: plain integers; exported with the workers' counters).
#[derive(Debug, Default)]
struct ControlStats {
    injected: u64,
    inject_dropped: u64,
    held: u64,
    held_timeout: u64,
    held_overflow: u64,
    local_dropped: u64,
    to_kernel: u64,
    from_kernel: u64,
}

/// Control's state: the running configuration and everything built from it, and its view of
/// the ports, for the frames it answers and originates.
struct Control<'a> {
    /// The running configuration (reloads and admin changes replace it).
    cfg: Config,
    /// The file `cfg` is re-read from on reload.
    path: std::path::PathBuf,
    ids: topology::Ids,
    health: HealthChecker,
    reload_stats: Arc<ReloadStats>,
    admin_stats: admin::Stats,
    dumps: Vec<Arc<admin::ConnDump>>,
    neighbours: Neighbours,
    generation: u64,
    shared: Arc<ArcSwap<Snapshot>>,
    counters: Vec<Arc<WorkerCounters>>,
    macs: &'a [Mac],
    pool: &'a Mempool,
    tx: Vec<TxQueue>,
    map: &'a PortMap,
    /// One ring into each worker, and a reused batch per ring.
    inject: Vec<ring::Producer>,
    inject_bufs: Vec<Vec<Mbuf>>,
    /// Frames waiting for a neighbour, oldest first.
    held: VecDeque<(Instant, Mbuf)>,
    /// Per gateway port, its exception path (kernel TAP), if configured.
    taps: Vec<Option<Tap>>,
    stats: ControlStats,
}

impl Control<'_> {
    fn send(&mut self, port: u8, frame: &[u8]) {
        let Some(q) = self.tx.get_mut(usize::from(port)) else {
            return;
        };
        let Some(m) = self.pool.alloc_from(frame) else {
            return;
        };
        let mut v = vec![m];
        q.tx_burst(&mut v);
    }

    /// Hand frames to workers: by RSS hash where the port computed one, else to worker 0, so
    /// that one flow always meets the same worker.
    fn inject(&mut self, frames: &mut Vec<Mbuf>) {
        let n = self.inject.len();
        if n == 1 {
            // One worker: the whole burst goes as is.
            std::mem::swap(&mut self.inject_bufs[0], frames);
        } else {
            for m in frames.drain(..) {
                let w = m.rss_hash() as usize % n;
                self.inject_bufs[w].push(m);
            }
        }
        for (ring, buf) in self.inject.iter_mut().zip(&mut self.inject_bufs) {
            if buf.is_empty() {
                continue;
            }
            let before = buf.len();
            ring.enqueue_burst(buf);
            self.stats.injected += (before - buf.len()) as u64;
            self.stats.inject_dropped += buf.len() as u64;
            buf.clear();
        }
    }

    /// Handle a punted frame; return true when the neighbour table changed.
    fn punted(&mut self, m: Mbuf, snap: &Snapshot, now: Instant) -> bool {
        let port = self.map.index(m.port());
        let Some(&mac) = self.macs.get(usize::from(port)) else {
            return false;
        };
        let cfg = &self.cfg;
        let out = neigh::handle(m.data(), mac, |ip| {
            topology::answers_for(cfg, usize::from(port), ip)
        });
        if let Some(reply) = &out.reply {
            self.send(port, reply);
        }
        let Ok(p) = dataplane::wire::parse_frame(m.data()) else {
            return false;
        };
        let neighbour_frame = out.reply.is_some() || is_neighbour_frame(&p);
        if neighbour_frame && neighbour_frame_for_kernel(m.data(), &p, snap) {
            // The kernel behind the exception path keeps its own neighbour table (it answers
            // nothing: its ARP replies are dropped on the way out, control already answered).
            self.copy_to_kernel(port, &m);
        }
        if let Some((ip, mac)) = out.learned {
            return self.neighbours.learn(ip, mac, port, now);
        }
        if neighbour_frame {
            return false;
        }
        if is_for_box(&p.l3, snap) {
            // The box's own traffic (ping, SSH, BGP, probe replies): the kernel's.
            if !self.copy_to_kernel(port, &m) {
                self.stats.local_dropped += 1;
            }
        } else {
            // A frame whose next hop is unresolved: hold it (bounded) until resolution.
            if self.held.len() >= HELD_MAX {
                self.held.pop_front();
                self.stats.held_overflow += 1;
            }
            self.held.push_back((now, m));
            self.stats.held += 1;
        }
        false
    }

    /// Copy a frame to port `port`'s exception path; false when it has none.
    fn copy_to_kernel(&mut self, port: u8, m: &Mbuf) -> bool {
        let Some(Some(tap)) = self.taps.get_mut(usize::from(port)) else {
            return false;
        };
        if let Some(c) = self.pool.alloc_from(m.data()) {
            let mut v = vec![c];
            tap.tx.tx_burst(&mut v);
            self.stats.to_kernel += u64::from(v.is_empty());
        }
        true
    }

    /// Forward what the kernel sends on its TAP interfaces to the wire; return true if any.
    fn forward_from_kernel(&mut self, buf: &mut Vec<Mbuf>) -> bool {
        let mut any = false;
        for port in 0..self.taps.len() {
            let Some(Some(tap)) = self.taps.get_mut(port) else {
                continue;
            };
            tap.rx.rx_burst(buf);
            if buf.is_empty() {
                continue;
            }
            any = true;
            // Control answers ARP for the box's addresses itself; the kernel's answers would be
            // duplicates.
            buf.retain(|m| !is_arp_reply(m.data()));
            self.stats.from_kernel += buf.len() as u64;
            if let Some(q) = self.tx.get_mut(port) {
                q.tx_burst(buf);
            }
            buf.clear();
        }
        any
    }

    /// Drop held frames that waited too long.
    fn expire_held(&mut self, now: Instant) {
        while let Some((t, _)) = self.held.front() {
            if now.duration_since(*t) < HELD_FOR {
                break;
            }
            self.held.pop_front();
            self.stats.held_timeout += 1;
        }
    }

    /// Send every held frame back through the pipeline.
    fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mut frames: Vec<Mbuf> = self.held.drain(..).map(|(_, m)| m).collect();
        self.inject(&mut frames);
    }

    /// Ask for every wanted neighbour that is missing or stale.
    fn resolve(&mut self, snap: &Snapshot, now: Instant) {
        let stale = self.neighbours.stale(now);
        for (hop, port, src) in topology::wanted_neighbours(&self.cfg, snap) {
            if self.neighbours.get(&hop).is_some() && !stale.iter().any(|(ip, _)| *ip == hop) {
                continue;
            }
            let Some(&mac) = self.macs.get(usize::from(port)) else {
                continue;
            };
            let frame = match (hop, src) {
                (IpAddr::V4(t), IpAddr::V4(s)) => neigh::arp_request(mac, s, t),
                (IpAddr::V6(t), IpAddr::V6(s)) => neigh::neighbour_solicitation(mac, s, t),
                _ => continue,
            };
            self.send(port, &frame);
        }
    }

    /// Gratuitous ARP for `ips` (VIPs) and every local address, on every port.
    fn announce(&mut self, ips: &[IpAddr]) {
        let mut ips = ips.to_vec();
        for p in &self.cfg.local_address_pools {
            ips.extend(p.addresses.iter().copied());
        }
        ips.sort();
        ips.dedup();
        for port in 0..self.macs.len() {
            let mac = self.macs[port];
            for ip in &ips {
                if let IpAddr::V4(v4) = ip {
                    let f = neigh::gratuitous_arp(mac, *v4);
                    self.send(u8::try_from(port).unwrap_or(0), &f);
                }
            }
        }
    }

    /// Build and publish the next snapshot generation from the running configuration.
    fn publish(&mut self) {
        self.generation += 1;
        let health = &self.health;
        let mut next = topology::build(
            &self.cfg,
            self.macs,
            &self.neighbours,
            self.generation,
            &self.ids,
            &|s, r| health.backend_health(s, r),
        );
        next.carry_scheduler_state(&self.shared.load());
        self.shared.store(Arc::new(next));
    }

    /// Wait until every worker runs generation `generation` (workers sync each loop).
    fn confirm(&self, generation: u64) -> Result<(), String> {
        let deadline = Instant::now() + CONFIRM_WITHIN;
        loop {
            let behind: Vec<usize> = self
                .counters
                .iter()
                .enumerate()
                .filter(|(_, c)| c.generation.get() < generation)
                .map(|(w, _)| w)
                .collect();
            if behind.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "workers {behind:?} did not take generation {generation} within {CONFIRM_WITHIN:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Replace the running configuration with `new` (validated): refuse boot-only changes and
    /// id exhaustion, publish, wait for every worker, announce new VIPs. On error nothing
    /// changed. Returns the new generation.
    fn commit(&mut self, new: Config) -> Result<u64, String> {
        let boot = self.cfg.boot_only_diff(&new);
        if !boot.is_empty() {
            return Err(format!(
                "boot-only settings changed (they need a restart): {}",
                boot.join("; ")
            ));
        }
        topology::timeouts(&new)?;
        self.ids.assign(&new)?;
        let added: Vec<IpAddr> = new
            .services
            .iter()
            .map(|s| s.vip)
            .filter(|v| !self.cfg.services.iter().any(|s| s.vip == *v))
            .collect();
        self.health.update(&new);
        self.cfg = new;
        self.publish();
        self.confirm(self.generation)?;
        self.announce(&added);
        // Resolve new real servers now, not at the next periodic pass: until a backend's
        // neighbour is known its new flows wait in control.
        let snap = self.shared.load_full();
        self.resolve(&snap, Instant::now());
        Ok(self.generation)
    }

    /// Re-read the configuration file and commit it (SIGHUP, `ferrovsadm --reload`); log and
    /// count the outcome. Returns the new generation.
    fn reload_file(&mut self) -> Result<u64, String> {
        let result = config::load(&self.path)
            .map_err(|e| e.to_string().trim_end().to_owned())
            .and_then(|new| {
                let n = new.services.len();
                self.commit(new).map(|g| (g, n))
            });
        match result {
            Ok((g, n)) => {
                self.reload_stats.record_success();
                println!(
                    "ferrovs: reload: {} ok: generation {g}, {n} services, every worker confirmed",
                    self.path.display()
                );
                Ok(g)
            }
            Err(e) => {
                self.reload_stats.record_failure();
                eprintln!("ferrovs: reload refused, running configuration kept: {e}");
                Err(e)
            }
        }
    }
}

/// ARP, or an ICMPv6 neighbour discovery message.
fn is_neighbour_frame(p: &dataplane::wire::ParsedFrame) -> bool {
    use dataplane::wire::{L3, L4};
    match (p.l3, p.l4) {
        (L3::Arp, _) => true,
        (L3::Ipv6 { .. }, L4::Icmpv6 { msg_type, .. }) => (133..=137).contains(&msg_type),
        _ => false,
    }
}

/// An ARP reply (EtherType 0x0806, operation 2).
fn is_arp_reply(frame: &[u8]) -> bool {
    frame.len() >= 22 && frame[12..14] == [0x08, 0x06] && frame[20..22] == [0, 2]
}

/// Whether a neighbour frame concerns the box's own addresses (ARP target, or an ND message to
/// one of them or to a multicast group), so the kernel behind the exception path should see it.
fn neighbour_frame_for_kernel(
    frame: &[u8],
    p: &dataplane::wire::ParsedFrame,
    snap: &Snapshot,
) -> bool {
    use dataplane::wire::{ArpPacket, L3};
    match p.l3 {
        L3::Arp => ArpPacket::new_checked(&frame[p.l3_off..])
            .is_ok_and(|a| snap.is_own(IpAddr::V4(a.tpa()))),
        L3::Ipv6 { dst, .. } => dst.is_multicast() || snap.is_own(IpAddr::V6(dst)),
        L3::Ipv4 { .. } => false,
    }
}

/// Whether a frame is addressed to the box itself (its own addresses, not VIPs or local
/// addresses, whose traffic the pipeline handles).
fn is_for_box(l3: &dataplane::wire::L3, snap: &Snapshot) -> bool {
    use dataplane::wire::L3;
    match *l3 {
        L3::Ipv4 { dst, .. } => snap.is_own(IpAddr::V4(dst)),
        L3::Ipv6 { dst, .. } => snap.is_own(IpAddr::V6(dst)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_eal_args_from_config() {
        let cfg = config::parse(
            "[dpdk]\nlcores = \"0-2\"\nhugepages = false\nfile_prefix = \"fv1\"\nmbufs_per_port = 8191\n\
             [[port]]\nname = \"p0\"\ndevice = \"net_memif0,role=server\"\naddresses = [\"198.18.0.1/24\"]\n",
            "t.toml",
        )
        .unwrap();
        let a = eal_args(&cfg);
        assert_eq!(
            &a[..7],
            &[
                "ferrovs",
                "-l",
                "0,1,2",
                "--main-lcore",
                "0",
                "--file-prefix",
                "fv1"
            ]
        );
        assert!(a.contains(&"--no-huge".to_owned()));
        assert!(
            a.contains(&"--no-pci".to_owned()),
            "vdevs only: no PCI scan"
        );
        assert!(a.contains(&"-m".to_owned()));
        assert!(looks_pci("0000:03:00.0"));
        let mapped = config::parse(
            "[dpdk]\nlcores = \"0-2\"\nlcore_cpus = [0, 1, 1]\n\
             [[port]]\nname = \"p0\"\ndevice = \"net_null0\"\naddresses = [\"198.18.0.1/24\"]\n",
            "t.toml",
        )
        .unwrap();
        let a = eal_args(&mapped);
        assert_eq!(a[1], "--lcores=0@0,1@1,2@1");
        assert!(!a.contains(&"-l".to_owned()), "--lcores replaces -l");
        assert!(!looks_pci("net_pcap0,rx_pcap=/tmp/a.pcap"));
    }
}
