//! `ferrovs`: the gateway daemon and its offline tools. Wiring only: the work is in the crates.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use control::doctor;

/// ferrovs: an L4 load-balancing gateway (LVS-style DR, NAT, TUN, FullNAT) on DPDK.
#[derive(Debug, Parser)]
#[command(name = "ferrovs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version and the DPDK it runs with.
    Version,
    /// Run the gateway: own the configured DPDK ports and forward until SIGINT/SIGTERM
    /// (SIGTERM with [announce]: withdraw every VIP, forward for `drain` seconds, then stop).
    Run {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: std::path::PathBuf,
    },
    /// Validate a configuration file without starting anything.
    ///
    /// Exit 0 when valid; otherwise print every error as FILE:LINE:COL: key.path: message and
    /// exit 1. With [announce], also refuse a routing table that holds routes that are not
    /// ferrovs's on this box (run it on the gateway).
    Check {
        /// The TOML configuration file.
        file: std::path::PathBuf,
    },
    /// Check this host for what a DPDK gateway needs and print the fix for each problem.
    Doctor {
        /// Hugepage memory the gateway will want, in MiB (0: it runs with --no-huge).
        #[arg(long, default_value_t = 1024)]
        memory_mb: u64,
        /// PCI address of a port the gateway will use (repeatable).
        #[arg(long = "pci")]
        pci: Vec<String>,
        /// Worker lcore the gateway will poll on (repeatable), for the isolation check.
        #[arg(long = "worker-lcore")]
        worker_lcores: Vec<u32>,
        /// ECMP: check that a BIRD answers on this control socket.
        #[arg(long)]
        bird_socket: Option<std::path::PathBuf>,
        /// The gateway's configuration: with [announce], check BIRD on its bird_socket and
        /// that its routing table holds no route that is not ferrovs's.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
    /// Print (or apply, or undo) what a Linux real server needs for a forwarding mode.
    Realserver {
        /// The forwarding mode the real server is used with.
        #[arg(value_enum)]
        mode: RsMode,
        /// The virtual IP (dr, tun).
        #[arg(long)]
        vip: Option<std::net::IpAddr>,
        /// The gateway's address on the real server's network (nat).
        #[arg(long)]
        gateway: Option<std::net::IpAddr>,
        /// Use this existing tunnel device instead of creating tunl0 (tun).
        #[arg(long)]
        tunnel_dev: Option<String>,
        /// Run the commands instead of printing them.
        #[arg(long, conflicts_with = "remove")]
        apply: bool,
        /// Run the commands that undo the set-up.
        #[arg(long)]
        remove: bool,
    },
    /// Convert a keepalived.conf or ipvsadm-save rules to a ferrovs configuration (TOML on
    /// stdout, warnings on stderr); with --keepalived-out, also keepalived.conf's VRRP half.
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
    /// Work with the running gateway's configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
enum ImportFrom {
    /// Import the LVS part of a keepalived.conf (virtual_server, real_server, checkers), and
    /// with --keepalived-out its VRRP part.
    Keepalived {
        /// The keepalived.conf file.
        file: std::path::PathBuf,
        /// Treat every warning (something not imported) as an error.
        #[arg(long)]
        strict: bool,
        /// A ferrovs configuration supplying [dpdk], ports, routes and pools; without it the
        /// output has a placeholder port to edit.
        #[arg(long)]
        base: Option<std::path::PathBuf>,
        /// Also write a VRRP-only keepalived.conf for this box to OUT (run it with `keepalived
        /// --vrrp -f OUT`: interfaces mapped to the ports' TAPs, virtual servers left out, VIPs
        /// and FullNAT local addresses added) and add an [ha] section to the TOML.
        #[arg(long, value_name = "OUT")]
        keepalived_out: Option<std::path::PathBuf>,
        /// Map a keepalived interface to a ferrovs port (repeatable); without it an interface
        /// maps to the port or TAP of that name, else the port whose network holds the
        /// instance's addresses, else the only port.
        #[arg(
            long = "interface",
            value_name = "IF=PORT",
            requires = "keepalived_out",
            value_parser = interface_mapping
        )]
        interfaces: Vec<(String, String)>,
    },
    /// Import ipvsadm-save / `ipvsadm -S` output ("-" reads stdin).
    Ipvsadm {
        /// The rules file, or "-" for stdin.
        file: String,
        /// A ferrovs configuration supplying [dpdk], ports, routes and pools.
        #[arg(long)]
        base: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Print the running configuration as TOML, including changes made with ferrovsadm.
    Export {
        /// The admin socket (default: $FERROVS_SOCKET, else /run/ferrovs/admin.sock).
        #[arg(long)]
        socket: Option<String>,
    },
}

/// `ferrovs check`'s live rule for `[announce]`: the routing table must hold no route that is
/// not ferrovs's (proto 247) on this box. Print the refusal, located at `announce.table`, and
/// return true when it is used by something else; a table that cannot be read (not root, no
/// netlink) is only a warning, since the file itself is valid.
fn table_in_use(file: &std::path::Path, cfg: &config::Config) -> bool {
    let Some(a) = &cfg.announce else {
        return false;
    };
    let foreign = control::announce::table::RouteTable::open(a.table).and_then(|mut t| t.foreign());
    match foreign {
        Ok(f) if f.is_empty() => false,
        Ok(f) => {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let e = config::error_at(
                &text,
                &file.display().to_string(),
                &["announce", "table"],
                format!(
                    "table {} is used by something else on this box: {} route(s) not \
                     ferrovs's (proto {}), such as {}; give [announce] a table of its own",
                    a.table,
                    f.len(),
                    config::ANNOUNCE_PROTOCOL,
                    f[0]
                ),
            );
            eprintln!("{e}");
            true
        }
        Err(e) => {
            eprintln!(
                "ferrovs check: warning: cannot read routing table {} to check it is free: {e}",
                a.table
            );
            false
        }
    }
}

/// Load `--base`, printing its errors.
fn load_base(path: Option<&std::path::Path>) -> Result<Option<config::Config>, ExitCode> {
    match path.map(config::load) {
        None => Ok(None),
        Some(Ok(c)) => Ok(Some(c)),
        Some(Err(errors)) => {
            eprint!("{errors}");
            Err(ExitCode::from(1))
        }
    }
}

/// Parse `--interface IF=PORT`.
fn interface_mapping(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((i, p)) if !i.is_empty() && !p.is_empty() => Ok((i.to_owned(), p.to_owned())),
        _ => Err(format!(
            "{s}: expected IF=PORT (keepalived interface = ferrovs port)"
        )),
    }
}

/// Print an import outcome and return its exit status.
fn emit(o: &admin::import::Outcome) -> ExitCode {
    eprint!("{}", o.stderr);
    print!("{}", o.stdout);
    ExitCode::from(o.code)
}

/// Whether two paths name the same existing file.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum RsMode {
    Dr,
    Tun,
    Nat,
    Fullnat,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!(
                "ferrovs {} ({}; built against {})",
                env!("CARGO_PKG_VERSION"),
                dpdk::version(),
                dpdk::build_version()
            );
            ExitCode::SUCCESS
        }
        Command::Run { config: path } => {
            let cfg = match config::load(&path) {
                Ok(c) => c,
                Err(errors) => {
                    eprint!("{errors}");
                    return ExitCode::from(1);
                }
            };
            let signals = ferrovs::gateway::Signals::default();
            for (sig, flag) in [
                (signal_hook::consts::SIGINT, &signals.stop),
                (signal_hook::consts::SIGTERM, &signals.drain),
                (signal_hook::consts::SIGHUP, &signals.reload),
            ] {
                if let Err(e) = signal_hook::flag::register(sig, flag.clone()) {
                    eprintln!("ferrovs: cannot handle signal {sig}: {e}");
                    return ExitCode::from(1);
                }
            }
            match ferrovs::gateway::run(cfg, path, &signals) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ferrovs: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Check { file } => match config::load(&file) {
            Ok(cfg) if table_in_use(&file, &cfg) => ExitCode::from(1),
            Ok(cfg) => {
                println!(
                    "{}: ok ({} ports, {} services, {} real servers)",
                    file.display(),
                    cfg.ports.len(),
                    cfg.services.len(),
                    cfg.services
                        .iter()
                        .map(|s| s.real_servers.len())
                        .sum::<usize>()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprint!("{errors}");
                ExitCode::from(1)
            }
        },
        Command::Realserver {
            mode,
            vip,
            gateway,
            tunnel_dev,
            apply,
            remove,
        } => realserver(mode, vip, gateway, tunnel_dev, apply, remove),
        Command::Doctor {
            memory_mb,
            pci,
            worker_lcores,
            bird_socket,
            config: cfg_path,
        } => {
            let announce = match cfg_path.as_deref().map(config::load) {
                None => None,
                Some(Ok(c)) => c.announce,
                Some(Err(errors)) => {
                    eprintln!("{errors}");
                    return ExitCode::from(1);
                }
            };
            let expect = doctor::Expect {
                hugepage_mb: memory_mb,
                pci_devices: pci,
                worker_lcores,
                dpdk_version: dpdk::version().to_owned(),
                bird_socket: bird_socket
                    .or_else(|| announce.as_ref().map(|a| a.bird_socket.clone().into())),
                announce_table: announce.as_ref().map(|a| a.table),
            };
            let findings = doctor::run(&doctor::system_root(), &expect);
            for f in &findings {
                println!("{f}");
            }
            match doctor::worst(&findings) {
                doctor::Level::Fail => {
                    println!("\nferrovs doctor: problems found; apply the fixes above");
                    ExitCode::from(1)
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Command::Import { from } => match from {
            ImportFrom::Keepalived {
                file,
                strict,
                base,
                keepalived_out,
                interfaces,
            } => {
                let base = match load_base(base.as_deref()) {
                    Ok(b) => b,
                    Err(code) => return code,
                };
                let text = match std::fs::read_to_string(&file) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("ferrovs: cannot read {}: {e}", file.display());
                        return ExitCode::from(1);
                    }
                };
                let name = file.display().to_string();
                let Some(out) = keepalived_out else {
                    return emit(&admin::import::keepalived_command(
                        &name,
                        &text,
                        base.as_ref(),
                        strict,
                    ));
                };
                if same_file(&out, &file) {
                    eprintln!(
                        "ferrovs: --keepalived-out {} is the input file; write the VRRP-only \
                         keepalived.conf elsewhere",
                        out.display()
                    );
                    return ExitCode::from(2);
                }
                let opts = admin::import::vrrp::HaOptions { interfaces };
                let r = admin::import::keepalived_ha_command(
                    &name,
                    &text,
                    base.as_ref(),
                    strict,
                    &opts,
                );
                if let Some(conf) = &r.keepalived_conf {
                    if let Err(e) = std::fs::write(&out, conf) {
                        eprint!("{}", r.outcome.stderr);
                        eprintln!("ferrovs: cannot write {}: {e}", out.display());
                        return ExitCode::from(1);
                    }
                }
                emit(&r.outcome)
            }
            ImportFrom::Ipvsadm { file, base } => {
                let base = match load_base(base.as_deref()) {
                    Ok(b) => b,
                    Err(code) => return code,
                };
                let text = if file == "-" {
                    let mut t = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut t).map(|_| t)
                } else {
                    std::fs::read_to_string(&file)
                };
                match text {
                    Ok(text) => emit(&admin::import::ipvsadm_command(
                        if file == "-" { "<stdin>" } else { &file },
                        &text,
                        base.as_ref(),
                        &admin::names::SystemNames::load(),
                    )),
                    Err(e) => {
                        eprintln!("ferrovs: cannot read {file}: {e}");
                        ExitCode::from(1)
                    }
                }
            }
        },
        Command::Config {
            action: ConfigAction::Export { socket },
        } => {
            let path = admin::client::socket_path(socket.as_deref());
            match admin::client::request(&path, &admin::proto::Request::GetConfig) {
                Ok(admin::proto::Response::Config { toml }) => {
                    print!("{toml}");
                    ExitCode::SUCCESS
                }
                Ok(admin::proto::Response::Error { message }) => {
                    eprintln!("ferrovs: {message}");
                    ExitCode::from(1)
                }
                Ok(other) => {
                    eprintln!("ferrovs: unexpected answer: {other:?}");
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("ferrovs: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn realserver(
    mode: RsMode,
    vip: Option<std::net::IpAddr>,
    gateway: Option<std::net::IpAddr>,
    tunnel_dev: Option<String>,
    apply: bool,
    remove: bool,
) -> ExitCode {
    use ferrovs::realserver::{self as rs, Mode, Plan};
    let plan = Plan {
        mode: match mode {
            RsMode::Dr => Mode::Dr,
            RsMode::Tun => Mode::Tun,
            RsMode::Nat => Mode::Nat,
            RsMode::Fullnat => Mode::FullNat,
        },
        vip,
        gateway,
        tunnel_dev,
    };
    if let Err(e) = plan.validate() {
        eprintln!("ferrovs realserver: {e}");
        return ExitCode::from(2);
    }
    let cmds = if remove { plan.remove() } else { plan.apply() };
    if apply || remove {
        if let Err(e) = rs::run(&cmds, remove) {
            eprintln!("ferrovs realserver: {e}");
            return ExitCode::from(1);
        }
        for c in &cmds {
            println!("done: {}", rs::shell_line(c));
        }
    } else {
        for c in &cmds {
            println!("{}", rs::shell_line(c));
        }
    }
    for n in plan.notes() {
        println!("# {n}");
    }
    ExitCode::SUCCESS
}
