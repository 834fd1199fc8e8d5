//! `ferrovs run`: DPDK ports wired to dataplane workers, with control on the main lcore.
//!
//! Threads (DESIGN §2): one worker per worker lcore polls its RX queue on every port, runs the
//! dataplane pipeline, and sends on its own TX queue of each port; what it does not handle goes
//! to control through its punt ring, and packets whose session lives on another worker go there
//! through a redirect ring (one SP/SC ring per ordered pair of workers). Control, on the main
//! lcore, answers ARP/ND, learns and resolves neighbours, publishes snapshots (arc-swap) and
//! owns one extra TX queue per port for the frames it originates. Control itself is
//! `control::plane`; this module only wires it to DPDK (`control_io`) and runs its loop.

mod admin;
mod control_io;
mod steer;
mod tap;

use control_io::DpdkControlIo;
use tap::exception_paths;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arc_swap::ArcSwap;
use config::Config;
use control::ha::Report as HaReport;
use control::health::HealthChecker;
use control::metrics::ExceptionPathCounters;
use control::metrics::{
    self, collect, server::MetricsServer, MetricsView, PortRow, PortSteeringRow, ReloadStats,
};
use control::neigh::Neighbours;
use control::plane::{self, AnnounceFollow, Control, HaFollow};
use control::topology;
use dataplane::counters::WorkerCounters;
use dataplane::io::PortMap;
use dataplane::snapshot::{Mac, Snapshot};
use dataplane::worker::{ReplySteering, Worker, WorkerConfig};
use dataplane::worker_loop::{self, IdleMode, LoopEnv};
use dpdk::eal::{rdtsc, Eal};
use dpdk::ethdev::{Port, PortConfig, RssConfig, RxQueue, TxQueue};
use dpdk::mempool::{Mempool, DEFAULT_DATA_ROOM};
use dpdk::{lcore, ring};

/// RX burst size (l3fwd's): the most frames a worker takes from one queue per loop iteration.
/// Public because the `net_pcap` replay test (`tests/gateway_pcap.rs`) schedules its input by
/// it: a worker polls its queue of port 0, then of port 1, one burst each per iteration.
pub const BURST: usize = worker_loop::BURST;
/// Slots in each punt and redirect ring.
const RING_SIZE: u32 = 1024;

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

/// Build a worker; with `hugepages = true` its session tables go on 2 MiB huge pages
/// ([`dpdk::huge`]), else (or when there are too few free) on normal pages: one log line per
/// worker says which, and why.
fn new_worker(wcfg: WorkerConfig, hugepages: bool) -> Worker {
    let id = wcfg.id;
    if !hugepages {
        let w = Worker::new(wcfg);
        eprintln!("ferrovs: worker {id}: session tables on normal pages (hugepages = false)");
        return w;
    }
    let (w, placed) = dpdk::huge::on_huge_pages(|| Worker::new(wcfg));
    let mib = |b: usize| b.div_ceil(1 << 20);
    match placed.reason_text() {
        None if placed.huge_bytes > 0 => eprintln!(
            "ferrovs: worker {id}: session tables on 2 MiB huge pages ({} MiB)",
            mib(placed.huge_bytes)
        ),
        None => eprintln!(
            "ferrovs: worker {id}: session tables on normal pages: none was large enough for \
             a huge page, or the allocator is not ferrovs's"
        ),
        Some(why) => eprintln!(
            "ferrovs: worker {id}: session tables on normal pages ({} MiB; {} MiB on huge \
             pages): {why}",
            mib(placed.normal_bytes),
            mib(placed.huge_bytes)
        ),
    }
    w
}

fn looks_pci(device: &str) -> bool {
    let name = device.split(',').next().unwrap_or(device);
    name.contains(':') && name.contains('.')
}

/// The session-sync channel's statistics, published by control for the metrics endpoint.
type SyncStats = Arc<std::sync::Mutex<Option<control::sync::ChannelStats>>>;

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
    /// SIGINT (and the end of a drained stop): stop.
    pub stop: Arc<AtomicBool>,
    /// SIGTERM: withdraw every announced VIP, forward for `[announce] drain` seconds, then
    /// stop (at once without `[announce]`).
    pub drain: Arc<AtomicBool>,
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
    // The RSS redirection table of the first port that has one: where client packets land,
    // for placing synced sessions.
    let mut first_reta: Option<Vec<u16>> = None;
    let mut macs: Vec<Mac> = Vec::new();
    let mut io: Vec<(Vec<RxQueue>, Vec<TxQueue>)> =
        (0..nw).map(|_| (Vec::new(), Vec::new())).collect();
    let mut control_tx = Vec::new();
    let mut control_rx: Vec<RxQueue> = Vec::new();
    let mut map = Vec::new();
    let (mut probes, mut carries) = (Vec::new(), Vec::new());
    for (pi, pc) in cfg.ports.iter().enumerate() {
        // What DPDK gets: the configured device, with ferrovs's defaults where DPDK's would
        // cost per packet (a memif client's buffer size; `dpdk::devargs`).
        let defaulted = dpdk::devargs::with_defaults(&pc.device);
        if let Some(d) = &defaulted {
            println!("ferrovs: port {}: {}", pc.name, d.why);
        }
        let device = defaulted.as_ref().map_or(pc.device.as_str(), |d| &d.spec);
        let mut port =
            Port::probe(eal, device).map_err(|e| format!("port {} ({}): {e}", pc.name, device))?;
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
            if first_reta.is_none() {
                first_reta = Some(reta.clone());
            }
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
            device,
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
    ids.assign(cfg).map_err(|e| e.to_string())?;
    let neighbours = Neighbours::default();
    // Director HA: follow the TAPs' addresses from before the first snapshot, in which every
    // followed address is not owned until the kernel says otherwise (no ARP answers from a
    // backup that just started).
    let ha = follow_ha(cfg)?;
    // Before the workers start, so a refused table stops the start cleanly.
    let announce = start_announce(cfg)?;
    let not_owned = ha.as_ref().map(HaFollow::not_owned).unwrap_or_default();
    topology::sched_flags(cfg).map_err(|e| e.to_string())?;
    let shared = Arc::new(ArcSwap::from_pointee(topology::build(
        &topology::Inputs {
            cfg,
            macs: &macs,
            neighbours: &neighbours,
            ids: &ids,
            health: &topology::unchecked,
            not_owned: &not_owned,
        },
        1,
    )));
    let timeouts = topology::timeouts(cfg).map_err(|e| e.to_string())?;
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
    // Session sync: one event ring and one install ring per worker, when `[sync]` is enabled
    // at start or has what it needs to be (`ferrovsadm --start-daemon` may enable it later): a
    // reload can change its settings, not add rings to running workers. With the channel off,
    // control empties the rings.
    let mut sync_links = Vec::new();
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
        let mut worker = new_worker(wcfg, cfg.dpdk.hugepages);
        // A key alone is enough: `ferrovsadm --start-daemon --mcast-interface IF` gives listen
        // and, without peers, the kernel's group.
        if cfg.sync.enabled || cfg.sync.can_run() || cfg.sync.key.is_some() {
            let (ws, cs) = dataplane::sync::link(dataplane::sync::SyncConfig::default());
            worker.attach_sync(ws);
            sync_links.push(cs);
        }
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
    let health_status = health.status_handle();
    let reload_stats = Arc::new(ReloadStats::new());
    let xstats: Arc<std::sync::Mutex<Vec<PortRow>>> = Arc::default();
    let sync_stats: SyncStats = Arc::default();

    let mut ctl = Control::new(plane::Setup {
        cfg: cfg_owned.clone(),
        path,
        ids,
        neighbours,
        health,
        shared: shared.clone(),
        counters: counters.clone(),
        macs: macs.clone(),
        io: DpdkControlIo {
            tx: control_tx,
            rx: control_rx,
            punt: punt_rx,
            inject,
            taps,
            ports: &ports,
            names: port_names,
            pool: &pool,
        },
        reload_stats: reload_stats.clone(),
        dumps: Box::new(admin::Dumps(dumps)),
        limits: plane::Limits::default(),
        sync: (!sync_links.is_empty()).then(|| plane::SyncLinks {
            links: sync_links,
            steering: dataplane::sync::Steering {
                workers: nw,
                replies: plan.steering.clone(),
                inbound: match &plan.steering {
                    ReplySteering::Rss(rs) => Some(rs.clone()),
                    ReplySteering::Modulo => first_reta
                        .as_deref()
                        .and_then(|r| dataplane::rss::RssSteer::new(&RSS_KEY, r).ok())
                        .map(Arc::new),
                },
            },
            stats: sync_stats.clone(),
        }),
    });
    let ha_report = ha.as_ref().map(HaFollow::report_handle);
    if let Some(ha) = ha {
        ctl.follow_ha(ha);
    }
    let announce_report = announce.as_ref().map(AnnounceFollow::report_handle);
    if let Some(a) = announce {
        ctl.follow_announce(a);
    }
    let view = metrics_view(
        cfg,
        &shared,
        &counters,
        &MetricsSources {
            health: health_status,
            reloads: reload_stats,
            xstats: xstats.clone(),
            reply_steering: steering_rows,
            exception: ctl.exception_counters(),
            inject: ctl.inject_counters(),
            ha: ha_report,
            announce: announce_report,
            sync: sync_stats,
        },
    );
    let metrics_server = start_metrics(cfg, view.clone())?;
    let console = start_console(cfg, &admin_server, view)?;
    let sources = plane::Sources {
        admin: admin_server.requests().clone(),
        stop: stop.clone(),
        drain: signals.drain.clone(),
        reload: signals.reload.clone(),
        port_stats: xstats,
    };
    plane::run(&mut ctl, &sources);

    // Shutdown, outside in: no new requests or scrapes, then the workers stop, then control
    // (its queues, rings, TAPs and held frames, and the health checker) goes before the ports
    // close and the mempool is freed; control borrows both, so it cannot outlive them.
    println!("ferrovs: stopping");
    notify_systemd("STOPPING=1");
    metrics_server.stop();
    if let Some(c) = console {
        c.stop();
    }
    drop(sources);
    drop(admin_server);
    for j in jobs {
        j.join();
    }
    ctl.log_stats();
    drop(ctl);
    steer::remove(&ports, flow_rules);
    for mut p in ports {
        if let Err(e) = p.stop() {
            eprintln!("ferrovs: port {}: {e}", p.name());
        }
    }
    println!("ferrovs: stopped");
    Ok(())
}

/// Start director HA's address watcher when `[ha]` follows addresses.
fn follow_ha(cfg: &Config) -> Result<Option<HaFollow>, String> {
    let Some(settings) = control::ha::Settings::from_config(cfg) else {
        return Ok(None);
    };
    let (n, taps) = (
        settings.followed.len(),
        settings
            .taps
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let f = HaFollow::start(settings).map_err(|e| format!("director HA: {e}"))?;
    println!(
        "ferrovs: ha: mode {}: {n} addresses follow keepalived on the exception paths ({taps}); \
         none owned until the kernel says so",
        cfg.ha.mode.name()
    );
    Ok(Some(f))
}

/// Start ECMP announcements when `[announce]` is configured: the route table must hold no
/// route that is not ferrovs's.
fn start_announce(cfg: &Config) -> Result<Option<AnnounceFollow>, String> {
    let Some(settings) = control::announce::Settings::from_config(cfg) else {
        return Ok(None);
    };
    let (table, n) = (settings.table, settings.vips.len());
    let f = AnnounceFollow::start(settings).map_err(|e| format!("[announce]: {e}"))?;
    println!(
        "ferrovs: announce: {n} VIPs announced in table {table} (proto {}) while healthy; BIRD \
         exports them",
        config::ANNOUNCE_PROTOCOL
    );
    Ok(Some(f))
}

/// What the metrics endpoint reads besides the snapshot and the workers' counters: all shared
/// with control, which writes them.
struct MetricsSources {
    health: control::health::StatusHandle,
    reloads: Arc<ReloadStats>,
    xstats: Arc<std::sync::Mutex<Vec<PortRow>>>,
    reply_steering: Vec<PortSteeringRow>,
    exception: Arc<Vec<ExceptionPathCounters>>,
    inject: Arc<control::metrics::InjectCounters>,
    ha: Option<Arc<std::sync::Mutex<HaReport>>>,
    announce: Option<Arc<std::sync::Mutex<control::announce::Report>>>,
    sync: SyncStats,
}

/// What a metrics scrape (and the console's status) reads: the workers' counters (no locks on
/// their side), the published snapshot, the health status, the xstats control caches, the
/// exception path's counts and director HA's report.
fn metrics_view(
    cfg: &Config,
    shared: &Arc<ArcSwap<Snapshot>>,
    counters: &[Arc<WorkerCounters>],
    src: &MetricsSources,
) -> metrics::expose::ViewSource {
    let shared = shared.clone();
    let workers = counters.to_vec();
    let health_status = src.health.clone();
    let reloads = src.reloads.clone();
    let xstats = src.xstats.clone();
    let reply_steering = src.reply_steering.clone();
    let exception = src.exception.clone();
    let inject = src.inject.clone();
    let ha = src.ha.clone();
    let announce = src.announce.clone();
    let port_names: Vec<String> = cfg.ports.iter().map(|p| p.name.clone()).collect();
    let sync_stats = src.sync.clone();
    let start = std::time::SystemTime::now();
    let cap4 = u64::from(cfg.dpdk.session_capacity);
    let cap6 = u64::from(cfg.dpdk.session_capacity / 4).max(1024);
    // The registry's collector builds the view at each scrape (nothing is kept between two).
    Arc::new(move || {
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
            sync: sync_stats.lock().ok().and_then(|s| s.clone()),
            exception_path: cfg_ports_with_taps(&port_names, &exception),
            inject: inject.row(),
            ha: ha.as_ref().and_then(|r| r.lock().ok().map(|g| g.clone())),
            announce: announce
                .as_ref()
                .and_then(|r| r.lock().ok().map(|g| g.clone())),
            ..MetricsView::default()
        };
        view.build.dpdk_version = dpdk::version().to_owned();
        view
    })
}

/// Start the Prometheus endpoint on the view.
fn start_metrics(cfg: &Config, view: metrics::expose::ViewSource) -> Result<MetricsServer, String> {
    let registry = metrics::expose::registry(view).map_err(|e| format!("metrics registry: {e}"))?;
    let source = Arc::new(move || metrics::expose::encode(&registry));
    let server = MetricsServer::start(cfg.control.metrics_listen, source)
        .map_err(|e| format!("metrics endpoint {}: {e}", cfg.control.metrics_listen))?;
    println!(
        "ferrovs: metrics on http://{}/metrics; admin socket {}",
        server.local_addr(),
        cfg.control.admin_socket
    );
    Ok(server)
}

/// Start the web console when `[control] console` is set: its actions go through the admin
/// queue (as `ferrovsadm`'s do), its status reads the metrics view.
fn start_console(
    cfg: &Config,
    admin: &::admin::server::AdminServer,
    view: metrics::expose::ViewSource,
) -> Result<Option<control::console::Console>, String> {
    let Some(k) = &cfg.control.console else {
        return Ok(None);
    };
    let gateway: control::console::status::GatewaySource = Arc::new(move || {
        control::console::status::Gateway::from_view(
            &view(),
            metrics::unix_seconds(std::time::SystemTime::now()),
        )
    });
    let console = control::console::Console::start(
        k,
        admin.local_client(),
        Box::new(::admin::names::SystemNames::load()),
        gateway,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "ferrovs: console on http://{} ({}; clients from {})",
        console.local_addr(),
        if k.users.is_empty() {
            "read-only: no console_users".to_owned()
        } else {
            format!("{} user(s) may change things", k.users.len())
        },
        k.allow
            .iter()
            .map(|p| format!("{}/{}", p.addr, p.len))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Some(console))
}

/// The exception path's rows, one per port.
fn cfg_ports_with_taps(
    names: &[String],
    c: &[ExceptionPathCounters],
) -> Vec<metrics::ExceptionPathRow> {
    names.iter().zip(c).map(|(n, c)| c.row(n)).collect()
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
