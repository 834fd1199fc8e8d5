//! The `ferrovs` command line, in the library so that `ferrovs-gen` renders its man page and
//! shell completions from the same definition the binary parses with.

use clap::{Parser, Subcommand};

/// ferrovs: an L4 load-balancing gateway (LVS-style DR, NAT, TUN, FullNAT) on DPDK.
#[derive(Debug, Parser)]
#[command(name = "ferrovs", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
pub enum ImportFrom {
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
pub enum ConfigAction {
    /// Print the running configuration as TOML, including changes made with ferrovsadm.
    Export {
        /// The admin socket (default: $FERROVS_SOCKET, else /run/ferrovs/admin.sock).
        #[arg(long)]
        socket: Option<String>,
    },
}

/// Parse `--interface IF=PORT`.
pub fn interface_mapping(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((i, p)) if !i.is_empty() && !p.is_empty() => Ok((i.to_owned(), p.to_owned())),
        _ => Err(format!(
            "{s}: expected IF=PORT (keepalived interface = ferrovs port)"
        )),
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum RsMode {
    /// Direct routing.
    Dr,
    /// IPIP tunnelling.
    Tun,
    /// NAT (masquerading).
    Nat,
    /// FullNAT.
    Fullnat,
}
