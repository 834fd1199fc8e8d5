//! `ferrovs`: the gateway daemon and its offline tools. Wiring only: the work is in the crates.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// The system allocator, with the workers' session tables on huge pages when the configuration
/// asks (`hugepages = true`; see `dpdk::huge`).
#[global_allocator]
static ALLOC: dpdk::huge::TableAlloc = dpdk::huge::TableAlloc;

use clap::Parser;
use control::doctor;
use ferrovs::cli::{Cli, Command, ConfigAction, ImportFrom, RsMode};

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
            let mut findings = doctor::run(&doctor::system_root(), &expect);
            // A gateway without huge pages (`--memory-mb 0`) keeps its tables on 4 KiB pages:
            // how the huge ones are translated is not its question.
            if memory_mb > 0 {
                // 4096 lines over 256 MiB of huge pages (128 of them): a tenth of a second.
                let reading = dpdk::huge::reach::measure(256, 4096, 2_000_000);
                findings.push(doctor::check_tlb(&reading));
            }
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
