//! `ferrovsadm`'s command line as a `clap::Command`, for its man page and shell completions
//! (rendered by `ferrovs-gen`). The grammar itself is [`crate::ipvsadm`]'s popt table: this
//! module only describes it, and its tests keep the two in step (every option in the table has a
//! description here and nothing here is missing from the table).

use clap::{Arg, ArgAction, Command};

use crate::ipvsadm::{options, OptionArg};

/// (value name, help) for the long option `long`, `None` for one this module does not know.
fn describe(long: &str) -> Option<(&'static str, &'static str)> {
    Some(match long {
        "add-service" => ("", "Add a virtual service."),
        "edit-service" => (
            "",
            "Edit a virtual service (unset attributes return to defaults).",
        ),
        "delete-service" => ("", "Delete a virtual service and its real servers."),
        "clear" => ("", "Delete every virtual service."),
        "list" => (
            "",
            "List the table (with -c, --stats, --rate, --timeout, ... other views).",
        ),
        "zero" => ("", "Zero the counters of one service, or of all."),
        "add-server" => ("", "Add a real server to a virtual service."),
        "edit-server" => (
            "",
            "Edit a real server (unset attributes return to defaults).",
        ),
        "delete-server" => ("", "Delete a real server."),
        "set" => (
            "",
            "Set the session timeouts: --set TCP TCPFIN UDP seconds, 0 = unchanged.",
        ),
        "help" => ("", "Print the usage text."),
        "version" => ("", "Print the version."),
        "restore" => (
            "",
            "Read ipvsadm-save commands from stdin and apply them atomically.",
        ),
        "save" => ("", "Print the table as commands (ipvsadm-save format)."),
        "start-daemon" => (
            "STATE",
            "Start the connection sync daemon (master or backup).",
        ),
        "stop-daemon" => (
            "STATE",
            "Stop the connection sync daemon (master or backup).",
        ),
        "tcp-service" => (
            "HOST[:PORT]",
            "A TCP virtual service ([ADDR]:PORT for IPv6).",
        ),
        "udp-service" => (
            "HOST[:PORT]",
            "A UDP virtual service ([ADDR]:PORT for IPv6).",
        ),
        "sctp-service" => (
            "HOST[:PORT]",
            "An SCTP virtual service (refused: not supported).",
        ),
        "fwmark-service" => ("MARK", "A firewall-mark service (refused: not supported)."),
        "scheduler" => (
            "SCHEDULER",
            "The scheduler: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf or mh; \
             default wlc.",
        ),
        "persistent" => (
            "TIMEOUT",
            "Persistent service; the timeout defaults to 360 seconds.",
        ),
        "netmask" => (
            "NETMASK",
            "Persistence granularity (IPv6: a prefix length).",
        ),
        "real-server" => (
            "HOST[:PORT]",
            "The real server; the port defaults to the service's.",
        ),
        "masquerading" => ("", "Forward by NAT."),
        "ipip" => ("", "Forward by IPIP tunnelling."),
        "gatewaying" => ("", "Forward by direct routing (the default)."),
        "weight" => ("WEIGHT", "Real server weight, 0..65535; default 1."),
        "u-threshold" => ("UTHRESHOLD", "Upper connection threshold of a real server."),
        "l-threshold" => ("LTHRESHOLD", "Lower connection threshold of a real server."),
        "numeric" => ("", "Numeric addresses and ports."),
        "connection" => ("", "List connections."),
        "mcast-interface" => ("INTERFACE", "The sync daemon's interface (a ferrovs port)."),
        "syncid" => ("SYNCID", "The sync daemon's id."),
        "timeout" => ("", "List the session timeouts."),
        "daemon" => ("", "List the sync daemon's state."),
        "stats" => ("", "List counters."),
        "rate" => ("", "List rates."),
        "thresholds" => ("", "List thresholds."),
        "persistent-conn" => ("", "List persistence templates."),
        "nosort" => ("", "Do not sort the listing."),
        "sort" => ("", "Sort the listing (the default)."),
        "exact" => ("", "Exact numbers."),
        "ipv6" => ("", "IPv6 firewall-mark services (refused: not supported)."),
        "ops" => ("", "One-packet scheduling (refused: not supported)."),
        "pe" => ("ENGINE", "Persistence engine (refused: not supported)."),
        "sched-flags" => (
            "FLAGS",
            "sh-fallback,sh-port (sh) or mh-fallback,mh-port (mh).",
        ),
        "mcast-group" => ("ADDRESS", "The sync daemon's multicast group."),
        "mcast-port" => ("PORT", "The sync daemon's port."),
        "mcast-ttl" => ("TTL", "The sync daemon's multicast TTL."),
        "sync-maxlen" => ("LENGTH", "The sync daemon's largest datagram."),
        "tun-info" => ("", "List tunnel information."),
        "tun-type" => ("TYPE", "Tunnel type (only ipip is supported)."),
        "tun-port" => ("PORT", "Tunnel port (GUE; not supported)."),
        "tun-nocsum" => ("", "Tunnel without checksum (GUE/GRE; not supported)."),
        "tun-csum" => ("", "Tunnel with checksum (GUE/GRE; not supported)."),
        "tun-remcsum" => (
            "",
            "Tunnel with remote checksum offload (GUE; not supported).",
        ),
        "fullnat" => (
            "",
            "Forward by FullNAT (-b with -a/-e, as DPVS spells it): the service's local address \
             pool, or the only pool there is.",
        ),
        "laddr-pool" => ("NAME", "FullNAT local address pool of a service (ferrovs)."),
        "reload" => ("", "Re-read the gateway's configuration file (ferrovs)."),
        "health" => (
            "",
            "Add each real server's health-check state to -L (ferrovs).",
        ),
        "ha" => (
            "",
            "List the addresses director HA follows, owned or not (ferrovs).",
        ),
        "ready" => (
            "",
            "Exit 0 while the gateway is ready to own addresses, else say why and exit 1 \
             (ferrovs; for keepalived's vrrp_script).",
        ),
        "announce" => ("", "List the VIP routes announced for ECMP (ferrovs)."),
        "syn-proxy" => (
            "",
            "List each service's SYN proxy: mode, workers engaged, switches (ferrovs).",
        ),
        "drain" => (
            "",
            "Withdraw every announced VIP and keep forwarding established flows (ferrovs).",
        ),
        "undrain" => ("", "Announce the VIPs again after --drain (ferrovs)."),
        "wait" => (
            "SECONDS",
            "With --drain: wait up to this long for the sessions to end (ferrovs).",
        ),
        "add-laddr" => (
            "",
            "Add a FullNAT local address (-z) to a service's local address pool, on port -F; a \
             service without a pool gets one (DPVS).",
        ),
        "del-laddr" => (
            "",
            "Delete a FullNAT local address (-z) from a service's pool (DPVS).",
        ),
        "get-laddr" => (
            "",
            "List each service's local addresses and connections from each, in DPVS's format \
             (DPVS).",
        ),
        "laddr" => (
            "ADDRESS",
            "The local address of --add-laddr/--del-laddr (DPVS).",
        ),
        "ifname" => (
            "PORT",
            "The ferrovs port the local address lives on (DPVS's -F interface).",
        ),
        _ => return None,
    })
}

/// Return `ferrovsadm`'s command line as clap describes it.
pub fn command() -> Command {
    let mut cmd = Command::new("ferrovsadm")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Administer a ferrovs gateway with ipvsadm's command line")
        .long_about(
            "ferrovsadm is ipvsadm for the ferrovs load-balancing gateway: the same grammar, \
             messages, exit statuses and listings, sent to the running gateway over its admin \
             socket (--socket PATH, $FERROVS_SOCKET, else /run/ferrovs/admin.sock).",
        )
        .override_usage(
            crate::ipvsadm::usage("ferrovsadm")
                .lines()
                .skip(2)
                .take_while(|l| !l.is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .disable_help_flag(true)
        .disable_version_flag(true);
    let mut seen = Vec::new();
    for (long, short, kind) in options() {
        if seen.contains(&long) {
            continue;
        }
        seen.push(long);
        let (value, help) = describe(long).unwrap_or(("", ""));
        let mut arg = Arg::new(long).long(long).help(help);
        if let Some(c) = short {
            arg = arg.short(c);
        }
        // `-l` is `-L`'s lowercase twin.
        if long == "list" {
            arg = arg.visible_short_alias('l');
        }
        arg = match kind {
            OptionArg::None => arg.action(ArgAction::SetTrue),
            OptionArg::Required => arg.value_name(value).action(ArgAction::Set),
            OptionArg::Optional => arg.value_name(value).num_args(0..=1).action(ArgAction::Set),
        };
        cmd = cmd.arg(arg);
    }
    cmd.arg(
        Arg::new("socket")
            .long("socket")
            .value_name("PATH")
            .help("The admin socket (env FERROVS_SOCKET; default /run/ferrovs/admin.sock)."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_of_the_grammar_is_described() {
        let missing: Vec<&str> = options()
            .map(|(long, _, _)| long)
            .filter(|l| describe(l).is_none_or(|(_, h)| h.is_empty()))
            .collect();
        assert!(
            missing.is_empty(),
            "describe these in admin::manual: {missing:?}"
        );
    }

    #[test]
    fn the_scheduler_help_names_every_scheduler() {
        let (_, help) = describe("scheduler").expect("described");
        for s in crate::ipvsadm::SCHEDULERS.split('|') {
            assert!(help.contains(&format!(" {s}")), "{s} missing from {help:?}");
        }
    }

    #[test]
    fn the_command_has_every_option_once_and_clap_accepts_it() {
        let cmd = command();
        cmd.clone().debug_assert();
        let longs: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
        for (long, short, _) in options() {
            assert!(longs.contains(&long), "--{long} missing");
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .expect("found above");
            let shorts = arg.get_short_and_visible_aliases().unwrap_or_default();
            assert_eq!(short.is_some(), !shorts.is_empty(), "--{long}: {shorts:?}");
            if let Some(c) = short {
                assert!(shorts.contains(&c), "-{c} for --{long}: {shorts:?}");
            }
        }
        assert!(longs.contains(&"socket"));
    }
}
