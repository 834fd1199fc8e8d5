//! ipvsadm's command-line grammar, reproduced from ipvsadm 1.31's code (`ipvsadm.c`, popt).
//!
//! [`parse`] turns one argv into a [`Parsed`] or a [`CliError`] with ipvsadm's exact message and
//! exit status. What it reproduces, because operator scripts depend on it:
//!
//! - popt's option syntax: short clusters (`-Ln`), attached values (`-p20`, `-tHOST:PORT`,
//!   `-s=rr`), long options with `=` or a separate value, `--` ending options, and an optional
//!   value for `-p` that is taken only when the next word does not start with `-`. Non-option
//!   words are collected and must be exactly the three `--set` values, else
//!   "unexpected argument X".
//! - The first option must be the command; anything else prints ipvsadm's "Try ..." line and
//!   exits 255. A second command later on is "invalid option `-X'" (exit 2), as popt builds of
//!   ipvsadm report it (the `multiple commands specified` branch is unreachable there).
//! - Options are processed left to right and fail at the first problem, so `-r` without a port
//!   takes the virtual port known *at that point*, and `-M` reads an IPv4 mask unless an IPv6
//!   service came before it.
//! - The legality table (`commands_v_options`), then the service and real-server checks, then
//!   the list conflicts, each with ipvsadm's message, exit status 2. popt errors ("--foo: unknown
//!   option") exit 255 like ipvsadm's `return -1`.
//!
//! ferrovs additions, spelled so they cannot collide with upstream options: `--fullnat` (a
//! forwarding method, like `-g/-m/-i`; `-b` too on `-a`/`-e`, as DPVS spells it, where
//! ipvsadm has no `-b`: on `-A`/`-E` it stays `--sched-flags`),
//! `--laddr-pool NAME` (FullNAT local address pool, on `-A`/`-E`), the commands `--reload` and
//! `--ready` (director HA: the check keepalived's `track_script` runs), the listing option
//! `--health` (a health-check column, with `-L` only) and `-L --ha` (the addresses director HA
//! follows, instead of the services), the commands `--drain [--wait SECONDS]` and `--undrain`
//! (ECMP: withdraw every VIP route and keep forwarding, or announce again) and `-L --announce`
//! (the VIP routes and their state).
//! DPVS's local-address commands, with DPVS's table rows and names: `--add-laddr`/`-P` and
//! `--del-laddr`/`-Q` (`-z ADDRESS -t|-u VIP:PORT -F PORT`, both options compulsory; `-F`
//! names a ferrovs port) and `--get-laddr`/`-G` (`[-t|-u VIP:PORT]`), mapped onto local
//! address pools by [`crate::laddr`].
//! `--socket PATH` is taken out of argv before parsing ([`take_socket_option`]).
//!
//! What ipvsadm accepts but ferrovs cannot do is refused after every ipvsadm check passed, with
//! "... is not supported by ferrovs" and exit status 2: fwmark (`-f`) and SCTP services,
//! one-packet scheduling (`-o`), the scheduler flags `flag-1..3` and GUE/GRE tunnels. The sync
//! daemon's multicast options (`--mcast-group`, `--mcast-port`, `--mcast-ttl`) set `[sync]`'s
//! group, where peers are discovered ([`crate::daemon`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::names::Names;
use crate::proto::{DaemonSpec, DaemonState, Fwd, Op, Proto, ServerSpec, ServiceKey, ServiceSpec};

/// The longest persistence or session timeout: 31 days (`MAX_TIMEOUT`).
const MAX_TIMEOUT: i64 = 86400 * 31;
/// The longest `--drain --wait`: a day.
const MAX_WAIT: i64 = 86400;
/// ipvsadm's default persistence timeout (`IPVS_SVC_PERSISTENT_TIMEOUT`).
const DEF_PERSISTENT_TIMEOUT: u32 = 360;
/// The schedulers ipvsadm 1.31 lists in its help.
pub const SCHEDULERS: &str = "rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh";

/// A refused command line: print `message` and a newline on stderr, exit with `exit_code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError {
    /// The text, exactly as ipvsadm prints it (without the final newline).
    pub message: String,
    /// The process exit status: 2 for `fail()`, 255 for ipvsadm's `return -1` / `exit(-1)`.
    pub exit_code: u8,
}

impl CliError {
    /// ipvsadm's `fail(2, ...)`.
    pub fn fail(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: 2,
        }
    }

    /// ipvsadm's `tryhelp_exit(argv[0], -1)`.
    pub fn try_help(program: &str) -> Self {
        Self {
            message: format!("Try `{program} -h' or '{program} --help' for more information."),
            exit_code: 255,
        }
    }

    fn unsupported(what: &str) -> Self {
        Self::fail(format!("{what} not supported by ferrovs"))
    }
}

impl core::fmt::Display for CliError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Listing options (`FMT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Format {
    /// `-n`: numeric addresses and ports.
    pub numeric: bool,
    /// `--stats`.
    pub stats: bool,
    /// `--rate`.
    pub rate: bool,
    /// `--thresholds`.
    pub thresholds: bool,
    /// `--persistent-conn`.
    pub persistent_conn: bool,
    /// `--nosort`: configuration order instead of sorted.
    pub nosort: bool,
    /// `--exact` / `-X`: exact numbers instead of K/M/G/T.
    pub exact: bool,
    /// `--tun-info`.
    pub tun_info: bool,
    /// `--health` (ferrovs): a health-check column on real-server rows.
    pub health: bool,
}

/// What `-L` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListWhat {
    /// Every service.
    All,
    /// One service (`-L -t VIP:PORT`).
    Service(ServiceKey),
    /// Connections (`-c`).
    Connections,
    /// Timeouts (`--timeout`).
    Timeout,
    /// Sync daemons (`--daemon`): the directions of session sync that run, in ipvsadm's
    /// format; nothing when none does, as ipvsadm prints.
    Daemon,
    /// The addresses director HA follows (`--ha`, ferrovs).
    Ha,
    /// The VIP routes announced for ECMP (`--announce`, ferrovs).
    Announce,
    /// Each service's SYN proxy: mode, workers engaged, switches (`--syn-proxy`, ferrovs); one
    /// service with `-t`/`-u`.
    SynProxy(Option<ServiceKey>),
}

/// A parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// A change: `-A -E -D -C -a -e -d --set`.
    Apply(Op),
    /// `-Z [service]`.
    Zero(Option<ServiceKey>),
    /// `-L`/`-l` (also no arguments at all).
    List(ListWhat, Format),
    /// `-S [-n]`.
    Save(Format),
    /// `-R`: read commands from stdin.
    Restore,
    /// `--reload` (ferrovs addition).
    Reload,
    /// `--ready` (ferrovs addition): exit 0 while the gateway is healthy and ready to own
    /// addresses, for keepalived's `vrrp_script`.
    Ready,
    /// `--start-daemon master|backup [--mcast-interface IF] [--syncid N] [--sync-maxlen N]`.
    StartDaemon(DaemonSpec),
    /// `--stop-daemon master|backup` (`--syncid` is accepted and ignored, as by the kernel).
    StopDaemon(DaemonState),
    /// `--drain [--wait SECONDS]` / `--undrain` (ferrovs additions): withdraw every VIP and
    /// keep forwarding, or announce again; with `wait_s`, wait up to that long for the
    /// sessions to end.
    Drain {
        /// Drain (true) or undrain.
        drained: bool,
        /// Seconds to wait for the sessions to end (`--drain --wait`).
        wait_s: Option<u32>,
    },
    /// `--get-laddr [-t|-u VIP:PORT]` (DPVS): the local addresses of one service or of all.
    Laddrs(Option<ServiceKey>),
}

/// The outcome of a successful parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// `-h`: print [`usage`] on stdout, exit 0.
    Help,
    /// `-v`: print [`version`] on stdout, exit 0.
    Version,
    /// A command to run.
    Command(Command),
}

/// Return the `-v` line. It says what answers and which ipvsadm it follows; the IPVS version is
/// the one listing headers print.
pub fn version() -> String {
    format!(
        "ferrovsadm v{} (ipvsadm v1.31 grammar and formats, IPVS v1.2.1)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Return the `-h` text for `program`.
pub fn usage(program: &str) -> String {
    let p = program;
    format!(
        "{v}
Usage:
  {p} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]
  {p} -D virtual-service
  {p} -C
  {p} -R
  {p} -S [-n]
  {p} -a|e virtual-service -r server-address [options]
  {p} -d virtual-service -r server-address
  {p} -L|l [virtual-service] [options]
  {p} -Z [virtual-service]
  {p} --set tcp tcpfin udp
  {p} --start-daemon {{master|backup}} [daemon-options]
  {p} --stop-daemon {{master|backup}}
  {p} --reload
  {p} --ready
  {p} -L --ha
  {p} --drain [--wait seconds]
  {p} --undrain
  {p} -L --announce
  {p} -L --syn-proxy [virtual-service]
  {p} --add-laddr|--del-laddr -z local-address -t|u virtual-service -F port
  {p} --get-laddr [-t|u virtual-service]
  {p} -h

Commands (long or short options):
  --add-service     -A   add a virtual service
  --edit-service    -E   edit a virtual service (unset attributes return to their defaults)
  --delete-service  -D   delete a virtual service and its real servers
  --clear           -C   delete every virtual service
  --restore         -R   read commands from stdin (ipvsadm-save format), applied atomically
  --save            -S   print the table as commands
  --add-server      -a   add a real server
  --edit-server     -e   edit a real server (unset attributes return to their defaults)
  --delete-server   -d   delete a real server
  --list            -L|-l  list the table
  --zero            -Z   zero the counters of one service or all
  --set tcp tcpfin udp   set session timeouts in seconds (0 = unchanged)
  --start-daemon         start a direction of session sync ([sync]; master sends, backup installs)
  --stop-daemon          stop a direction of session sync
  --reload               re-read the configuration file (ferrovs)
  --ready                exit 0 while the gateway is ready to own addresses, else say why
                         and exit 1 (ferrovs; for keepalived's vrrp_script)
  --drain                withdraw every announced VIP, keep forwarding (ferrovs; ECMP)
  --undrain              announce the healthy VIPs again (ferrovs; ECMP)
  --add-laddr       -P   add a FullNAT local address to a service's pool (DPVS)
  --del-laddr       -Q   delete a FullNAT local address (DPVS)
  --get-laddr       -G   list the services' local addresses (DPVS)
  --help            -h   this text
  --version         -v   version

virtual-service:
  --tcp-service|-t host[:port]
  --udp-service|-u host[:port]      IPv6 as [addr]:port

Options:
  --scheduler    -s scheduler   one of {SCHEDULERS}; default wlc
  --persistent   -p [timeout]   persistent service; default 360 seconds
  --netmask      -M netmask     persistence granularity (IPv6: prefix length)
  --sched-flags  -b flags       sh-fallback,sh-port (sh) or mh-fallback,mh-port (mh)
  --real-server  -r server-address  host[:port]; the port defaults to the service's
  --gatewaying   -g             direct routing (default)
  --ipip         -i             IPIP tunnelling
  --masquerading -m             NAT
  --fullnat      -b             FullNAT, with -a/-e (DPVS's -b; the service's pool, or the
                                only pool there is)
  --laddr-pool   name           FullNAT local address pool, with -A/-E (ferrovs)
  --weight       -w weight      0..65535; default 1
  --u-threshold  -x uthreshold  upper connection threshold
  --l-threshold  -y lthreshold  lower connection threshold
  --numeric      -n             numeric addresses and ports
  --connection   -c             list connections
  --timeout                     list timeouts
  --stats                       list counters
  --rate                        list rates
  --exact        -X             exact numbers
  --thresholds                  list thresholds
  --persistent-conn             list persistence templates
  --tun-info                    list tunnel information
  --health                      add each real server's health-check state (ferrovs)
  --ha                          list the addresses director HA follows, owned or not (ferrovs)
  --daemon                      list the sync daemons (directions of session sync) that run
  --announce                    list the VIP routes announced for ECMP (ferrovs)
  --syn-proxy                   list each service's SYN proxy: mode, workers engaged, switches
                                (ferrovs)
  --wait         seconds        with --drain: wait up to this long for the sessions to end
  --laddr        -z address     the local address of --add-laddr/--del-laddr (DPVS)
  --ifname       -F port        the ferrovs port the local address lives on (DPVS's interface)
  --nosort                      do not sort the listing
  --sort                        sort the listing (the default)
  --socket PATH                 admin socket (env FERROVS_SOCKET; default /run/ferrovs/admin.sock)

Daemon Options:
  --syncid sid                  sync group ([sync] syncid; default: the configured one)
  --sync-maxlen length          largest sync datagram, at least 512 ([sync] max_datagram)
  --mcast-interface interface   the ferrovs port (or its TAP) holding [sync] listen
  --mcast-group address         group where peers are discovered ([sync] group; default 224.0.0.81 without peers)
  --mcast-port port             the group's port ([sync] group_port; default listen's, 8848)
  --mcast-ttl ttl               hop limit of the group's hellos ([sync] ttl; default 1)
  key comes from [sync]: every sync message carries an HMAC with it.

Not supported by ferrovs: -f/--fwmark-service, --sctp-service, -o/--ops, --pe,
flag-1..3, --tun-type gue|gre.
",
        v = version()
    )
}

/// Remove `--socket PATH` / `--socket=PATH` from `argv` (anywhere after the program name) and
/// return it. Taken out before the ipvsadm parse so it may come first (`ferrovsadm --socket P -L`)
/// without breaking ipvsadm's "first option is the command" rule.
///
/// # Errors
///
/// `--socket` without a value.
pub fn take_socket_option(argv: &mut Vec<String>) -> Result<Option<String>, CliError> {
    let mut found = None;
    let mut i = 1;
    while i < argv.len() {
        if argv[i] == "--" {
            break;
        }
        if argv[i] == "--socket" {
            if i + 1 >= argv.len() {
                return Err(CliError {
                    message: "--socket: missing argument".into(),
                    exit_code: 255,
                });
            }
            found = Some(argv.remove(i + 1));
            argv.remove(i);
        } else if let Some(v) = argv[i].strip_prefix("--socket=") {
            found = Some(v.to_owned());
            argv.remove(i);
        } else {
            i += 1;
        }
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// The option table and popt emulation.

/// Whether an option takes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    Optional,
}

/// Option tags (popt `val`s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    AddService,
    EditService,
    DeleteService,
    Clear,
    List,
    Zero,
    AddServer,
    EditServer,
    DeleteServer,
    Set,
    Help,
    Version,
    Restore,
    Save,
    StartDaemon,
    StopDaemon,
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Scheduler,
    Persistent,
    Netmask,
    Real,
    Masq,
    Ipip,
    Gate,
    Weight,
    UThreshold,
    LThreshold,
    Numeric,
    Connection,
    McastInterface,
    SyncId,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
    FullNat,
    LaddrPool,
    Reload,
    Health,
    Ha,
    Ready,
    Announce,
    Drain,
    Undrain,
    Wait,
    SynProxy,
    AddLaddr,
    DelLaddr,
    GetLaddr,
    Laddr,
    Ifname,
}

/// (long name, short name, value, tag): ipvsadm 1.31's popt table plus the ferrovs additions.
const OPTIONS: &[(&str, Option<char>, Arg, Tag)] = &[
    ("add-service", Some('A'), Arg::None, Tag::AddService),
    ("edit-service", Some('E'), Arg::None, Tag::EditService),
    ("delete-service", Some('D'), Arg::None, Tag::DeleteService),
    ("clear", Some('C'), Arg::None, Tag::Clear),
    ("list", Some('L'), Arg::None, Tag::List),
    ("list", Some('l'), Arg::None, Tag::List),
    ("zero", Some('Z'), Arg::None, Tag::Zero),
    ("add-server", Some('a'), Arg::None, Tag::AddServer),
    ("edit-server", Some('e'), Arg::None, Tag::EditServer),
    ("delete-server", Some('d'), Arg::None, Tag::DeleteServer),
    ("set", None, Arg::None, Tag::Set),
    ("help", Some('h'), Arg::None, Tag::Help),
    ("version", Some('v'), Arg::None, Tag::Version),
    ("restore", Some('R'), Arg::None, Tag::Restore),
    ("save", Some('S'), Arg::None, Tag::Save),
    ("start-daemon", None, Arg::Required, Tag::StartDaemon),
    ("stop-daemon", None, Arg::Required, Tag::StopDaemon),
    ("tcp-service", Some('t'), Arg::Required, Tag::Tcp),
    ("udp-service", Some('u'), Arg::Required, Tag::Udp),
    ("sctp-service", None, Arg::Required, Tag::Sctp),
    ("fwmark-service", Some('f'), Arg::Required, Tag::Fwmark),
    ("scheduler", Some('s'), Arg::Required, Tag::Scheduler),
    ("persistent", Some('p'), Arg::Optional, Tag::Persistent),
    ("netmask", Some('M'), Arg::Required, Tag::Netmask),
    ("real-server", Some('r'), Arg::Required, Tag::Real),
    ("masquerading", Some('m'), Arg::None, Tag::Masq),
    ("ipip", Some('i'), Arg::None, Tag::Ipip),
    ("gatewaying", Some('g'), Arg::None, Tag::Gate),
    ("weight", Some('w'), Arg::Required, Tag::Weight),
    ("u-threshold", Some('x'), Arg::Required, Tag::UThreshold),
    ("l-threshold", Some('y'), Arg::Required, Tag::LThreshold),
    ("numeric", Some('n'), Arg::None, Tag::Numeric),
    ("connection", Some('c'), Arg::None, Tag::Connection),
    ("mcast-interface", None, Arg::Required, Tag::McastInterface),
    ("syncid", None, Arg::Required, Tag::SyncId),
    ("timeout", None, Arg::None, Tag::Timeout),
    ("daemon", None, Arg::None, Tag::Daemon),
    ("stats", None, Arg::None, Tag::Stats),
    ("rate", None, Arg::None, Tag::Rate),
    ("thresholds", None, Arg::None, Tag::Thresholds),
    ("persistent-conn", None, Arg::None, Tag::PersistentConn),
    ("nosort", None, Arg::None, Tag::NoSort),
    ("sort", None, Arg::None, Tag::Sort),
    ("exact", Some('X'), Arg::None, Tag::Exact),
    ("ipv6", Some('6'), Arg::None, Tag::Ipv6),
    ("ops", Some('o'), Arg::None, Tag::Ops),
    ("pe", None, Arg::Required, Tag::Pe),
    ("sched-flags", Some('b'), Arg::Required, Tag::SchedFlags),
    ("mcast-group", None, Arg::Required, Tag::McastGroup),
    ("mcast-port", None, Arg::Required, Tag::McastPort),
    ("mcast-ttl", None, Arg::Required, Tag::McastTtl),
    ("sync-maxlen", None, Arg::Required, Tag::SyncMaxlen),
    ("tun-info", None, Arg::None, Tag::TunInfo),
    ("tun-type", None, Arg::Required, Tag::TunType),
    ("tun-port", None, Arg::Required, Tag::TunPort),
    ("tun-nocsum", None, Arg::None, Tag::TunNocsum),
    ("tun-csum", None, Arg::None, Tag::TunCsum),
    ("tun-remcsum", None, Arg::None, Tag::TunRemcsum),
    // ferrovs additions.
    ("fullnat", None, Arg::None, Tag::FullNat),
    ("laddr-pool", None, Arg::Required, Tag::LaddrPool),
    ("reload", None, Arg::None, Tag::Reload),
    ("health", None, Arg::None, Tag::Health),
    ("ha", None, Arg::None, Tag::Ha),
    ("ready", None, Arg::None, Tag::Ready),
    ("announce", None, Arg::None, Tag::Announce),
    ("drain", None, Arg::None, Tag::Drain),
    ("undrain", None, Arg::None, Tag::Undrain),
    ("wait", None, Arg::Required, Tag::Wait),
    ("syn-proxy", None, Arg::None, Tag::SynProxy),
    // DPVS's local-address commands and their options, with DPVS's short names.
    ("add-laddr", Some('P'), Arg::None, Tag::AddLaddr),
    ("del-laddr", Some('Q'), Arg::None, Tag::DelLaddr),
    ("get-laddr", Some('G'), Arg::None, Tag::GetLaddr),
    ("laddr", Some('z'), Arg::Required, Tag::Laddr),
    ("ifname", Some('F'), Arg::Required, Tag::Ifname),
];

/// How an option takes its value, as [`options`] tells [`crate::manual`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionArg {
    /// No value.
    None,
    /// A value, always.
    Required,
    /// A value when the next word does not start with `-` (`-p`).
    Optional,
}

/// Every option of the grammar: (long name, short name, value). `list` appears twice (`-L`,
/// `-l`).
pub fn options() -> impl Iterator<Item = (&'static str, Option<char>, OptionArg)> {
    OPTIONS.iter().map(|&(long, short, arg, _)| {
        let arg = match arg {
            Arg::None => OptionArg::None,
            Arg::Required => OptionArg::Required,
            Arg::Optional => OptionArg::Optional,
        };
        (long, short, arg)
    })
}

/// popt's errors, with `poptStrerror`'s text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PoptError {
    BadOpt,
    NoArg,
    UnwantedArg,
}

impl PoptError {
    const fn text(self) -> &'static str {
        match self {
            Self::BadOpt => "unknown option",
            Self::NoArg => "missing argument",
            Self::UnwantedArg => "option does not take an argument",
        }
    }
}

/// One option popt returned.
struct Got {
    tag: Tag,
    value: Option<String>,
}

/// popt's option scanner, reduced to what ipvsadm's table uses.
struct Popt<'a> {
    argv: &'a [String],
    next: usize,
    /// The rest of a short-option cluster and the word it came from.
    chars: Option<(String, String)>,
    rest_leftover: bool,
    leftovers: Vec<String>,
    /// The last word consumed (`poptBadOption(ctx, POPT_BADOPTION_NOALIAS)`).
    last_word: String,
    /// `-b` is DPVS's `--fullnat` (no value) rather than ipvsadm's `--sched-flags FLAGS`: set
    /// for the real-server commands, where ipvsadm has no `-b`.
    b_is_fullnat: bool,
}

impl<'a> Popt<'a> {
    fn new(argv: &'a [String]) -> Self {
        Self {
            argv,
            next: 1,
            chars: None,
            rest_leftover: false,
            leftovers: Vec::new(),
            last_word: String::new(),
            b_is_fullnat: false,
        }
    }

    /// Take an option's value from the next word: required values take it whatever it looks
    /// like; optional ones only when it does not start with `-`.
    fn value_from_next(&mut self, arg: Arg) -> Result<Option<String>, PoptError> {
        match self.argv.get(self.next) {
            None if arg == Arg::Optional => Ok(None),
            None => Err(PoptError::NoArg),
            Some(w) if arg == Arg::Optional && w.starts_with('-') => Ok(None),
            Some(w) => {
                self.next += 1;
                self.last_word.clone_from(w);
                Ok(Some(w.clone()))
            }
        }
    }

    /// Return the next option, `Ok(None)` at the end, or a popt error with the offending word.
    fn next_opt(&mut self) -> Result<Option<Got>, (PoptError, String)> {
        loop {
            if let Some((cluster, word)) = self.chars.take() {
                let mut it = cluster.chars();
                let Some(c) = it.next() else { continue };
                let rest: String = it.collect();
                let found = if c == 'b' && self.b_is_fullnat {
                    Some((Arg::None, Tag::FullNat))
                } else {
                    OPTIONS
                        .iter()
                        .find(|(_, s, _, _)| *s == Some(c))
                        .map(|&(_, _, arg, tag)| (arg, tag))
                };
                let Some((arg, tag)) = found else {
                    return Err((PoptError::BadOpt, word));
                };
                if arg == Arg::None {
                    if rest.starts_with('=') {
                        return Err((PoptError::UnwantedArg, word));
                    }
                    if !rest.is_empty() {
                        self.chars = Some((rest, word));
                    }
                    return Ok(Some(Got { tag, value: None }));
                }
                if !rest.is_empty() {
                    let v = rest.strip_prefix('=').unwrap_or(&rest).to_owned();
                    return Ok(Some(Got {
                        tag,
                        value: Some(v),
                    }));
                }
                let value = self.value_from_next(arg).map_err(|e| (e, word))?;
                return Ok(Some(Got { tag, value }));
            }
            let Some(word) = self.argv.get(self.next) else {
                return Ok(None);
            };
            self.next += 1;
            self.last_word.clone_from(word);
            if self.rest_leftover || !word.starts_with('-') || word == "-" {
                self.leftovers.push(word.clone());
                continue;
            }
            if word == "--" {
                self.rest_leftover = true;
                continue;
            }
            if let Some(long) = word.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_owned())),
                    None => (long, None),
                };
                let Some(&(_, _, arg, tag)) = OPTIONS.iter().find(|(l, _, _, _)| *l == name) else {
                    return Err((PoptError::BadOpt, word.clone()));
                };
                let word = word.clone();
                return match (arg, inline) {
                    (Arg::None, Some(_)) => Err((PoptError::UnwantedArg, word)),
                    (Arg::None, None) => Ok(Some(Got { tag, value: None })),
                    (_, Some(v)) => Ok(Some(Got {
                        tag,
                        value: Some(v),
                    })),
                    (_, None) => {
                        let value = self.value_from_next(arg).map_err(|e| (e, word))?;
                        Ok(Some(Got { tag, value }))
                    }
                };
            }
            self.chars = Some((word[1..].to_owned(), word.clone()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Commands, options and the legality table.

/// Commands, in ipvsadm's `CMD_*` order plus `reload`, `ready`, `drain`, `undrain` and DPVS's
/// `add-laddr`, `del-laddr`, `get-laddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
    Reload,
    Ready,
    Drain,
    Undrain,
    AddLaddr,
    DelLaddr,
    GetLaddr,
}

/// `cmdnames[]`.
const CMD_NAMES: [&str; 21] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
    "reload",
    "ready",
    "drain",
    "undrain",
    "add-laddr",
    "del-laddr",
    "get-laddr",
];

/// `optnames[]`, indexed by the `OPTC_*` constants below, plus `laddr-pool`, `health`, `ha`,
/// `announce`, `wait`, DPVS's `local-address` (`-z`) and `ifname` (`-F`), and `syn-proxy`.
const OPT_NAMES: [&str; 42] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
    "laddr-pool",
    "health",
    "ha",
    "announce",
    "wait",
    "local-address",
    "ifname",
    "syn-proxy",
];

const OPTC_NUMERIC: usize = 0;
const OPTC_CONNECTION: usize = 1;
const OPTC_SERVICE: usize = 2;
const OPTC_SCHEDULER: usize = 3;
const OPTC_PERSISTENT: usize = 4;
const OPTC_NETMASK: usize = 5;
const OPTC_SERVER: usize = 6;
const OPTC_FORWARD: usize = 7;
const OPTC_WEIGHT: usize = 8;
const OPTC_UTHRESHOLD: usize = 9;
const OPTC_LTHRESHOLD: usize = 10;
const OPTC_MCAST: usize = 11;
const OPTC_TIMEOUT: usize = 12;
const OPTC_DAEMON: usize = 13;
const OPTC_STATS: usize = 14;
const OPTC_RATE: usize = 15;
const OPTC_THRESHOLDS: usize = 16;
const OPTC_PERSISTENTCONN: usize = 17;
const OPTC_NOSORT: usize = 18;
const OPTC_SYNCID: usize = 19;
const OPTC_EXACT: usize = 20;
const OPTC_ONEPACKET: usize = 21;
const OPTC_PE: usize = 22;
const OPTC_SCHED_FLAGS: usize = 23;
const OPTC_MCAST_GROUP: usize = 24;
const OPTC_MCAST_PORT: usize = 25;
const OPTC_MCAST_TTL: usize = 26;
const OPTC_SYNC_MAXLEN: usize = 27;
const OPTC_TUN_INFO: usize = 28;
const OPTC_TUN_TYPE: usize = 29;
const OPTC_TUN_PORT: usize = 30;
const OPTC_TUN_NOCSUM: usize = 31;
const OPTC_TUN_CSUM: usize = 32;
const OPTC_TUN_REMCSUM: usize = 33;
const OPTC_LADDR_POOL: usize = 34;
const OPTC_HEALTH: usize = 35;
const OPTC_HA: usize = 36;
const OPTC_ANNOUNCE: usize = 37;
const OPTC_WAIT: usize = 38;
const OPTC_LADDR: usize = 39;
const OPTC_IFNAME: usize = 40;
const OPTC_SYN_PROXY: usize = 41;

/// `commands_v_options[][]` from ipvsadm 1.31, one row per [`Cmd`], one character per
/// `OPTC_*`: `+` compulsory, `x` illegal, `1` at most one of these, ` ` optional. The 35th to
/// 39th columns (`laddr-pool`, `health`, `ha`, `announce`, `wait`) and the `reload`, `ready`,
/// `drain` and `undrain` rows are ferrovs's; the 40th and 41st columns (`local-address`,
/// `ifname`) and rows (`add-laddr`, `del-laddr`, `get-laddr`) are DPVS's, as its table has
/// them; the last column (`syn-proxy`) is ferrovs's again, legal with `list` only.
const LEGAL: [&[u8; 42]; 21] = [
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx xxxxxxx",
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx xxxxxxx",
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    b" 11xxxxxxxxx11       xxxxxxx xxxxxx   xxx ",
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     xxxxxxxx",
    b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     xxxxxxxx",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxxxxxxxxxx",
    b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxxxxxxxxxx",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx xxx",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx++x",
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx++x",
    b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

/// Tunnel types (`tunnames[]`).
const TUN_NAMES: [&str; 3] = ["ipip", "gue", "gre"];
/// The tunnel options checked per type (`tunopts[]`).
const TUN_OPTS: [usize; 4] = [
    OPTC_TUN_PORT,
    OPTC_TUN_NOCSUM,
    OPTC_TUN_CSUM,
    OPTC_TUN_REMCSUM,
];
/// `tunnel_types_v_options[][]`.
const TUN_LEGAL: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];

/// Address family as ipvsadm tracks it: 0 until a service or server address sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Af {
    Unspec,
    V4,
    V6,
}

/// The service part of ipvsadm's `ipvs_command_entry`.
#[derive(Clone, Debug)]
struct Svc {
    af: Af,
    addr: IpAddr,
    port: u16,
    /// `None` until `-t/-u/--sctp-service`; `Some(None)` = SCTP.
    protocol: Option<Option<Proto>>,
    fwmark: u32,
    sched_name: String,
    persistent: bool,
    timeout: u32,
    /// IPv4: the mask (host order); IPv6: the prefix length.
    netmask: u32,
    ops: bool,
    pe: Option<String>,
}

impl Default for Svc {
    fn default() -> Self {
        Self {
            af: Af::Unspec,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            protocol: None,
            fwmark: 0,
            sched_name: String::new(),
            persistent: false,
            timeout: 0,
            netmask: u32::MAX,
            ops: false,
            pe: None,
        }
    }
}

/// The destination part.
#[derive(Clone, Debug)]
struct Dest {
    af: Af,
    addr: IpAddr,
    port: u16,
    fwd: Fwd,
    weight: u32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: usize,
}

/// Everything one command line sets.
#[derive(Debug)]
struct Entry {
    cmd: Option<Cmd>,
    options: u64,
    format: Format,
    svc: Svc,
    dest: Dest,
    timeouts: [u32; 3],
    sched_flags_arg: String,
    laddr_pool: Option<String>,
    /// `--start-daemon`/`--stop-daemon`'s state and the daemon options.
    daemon: Option<DaemonState>,
    mcast_ifn: Option<String>,
    mcast_group: Option<IpAddr>,
    mcast_port: Option<u16>,
    mcast_ttl: Option<u8>,
    syncid: Option<u8>,
    sync_maxlen: Option<u16>,
    wait_s: Option<u32>,
    /// `-z`: DPVS's local address.
    laddr: Option<IpAddr>,
    /// `-F`: DPVS's interface, a ferrovs port here.
    ifname: Option<String>,
}

fn set_command(cmd: &mut Option<Cmd>, new: Cmd) -> Result<(), CliError> {
    if cmd.is_some() {
        return Err(CliError::fail("multiple commands specified"));
    }
    *cmd = Some(new);
    Ok(())
}

fn set_option(options: &mut u64, optc: usize) -> Result<(), CliError> {
    let bit = 1u64 << optc;
    if *options & bit != 0 {
        return Err(CliError::fail(format!(
            "multiple '{}' options specified",
            OPT_NAMES[optc]
        )));
    }
    *options |= bit;
    Ok(())
}

/// C `isspace` in the "C" locale.
const fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `strtol(s, &end, 10)` requiring the whole string: leading white space and a sign are
/// allowed, at least one digit, nothing after. `None` for anything else or overflow.
fn strtol_full(s: &str) -> Option<i64> {
    let t = s.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: i64 = 0;
    for b in digits.bytes() {
        n = n.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(if neg { -n } else { n })
}

/// ipvsadm's `string_to_number(s, min, max)`: `None` where it returns -1.
fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    strtol_full(s).filter(|n| (min..=max).contains(n))
}

fn to_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// C `atoi`: leading space, sign, digits up to the first non-digit; 0 if none.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in rest.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// C `inet_aton`: one to four numbers separated by dots, each decimal, octal (leading 0) or hex
/// (0x); the last number fills the remaining bytes (`10.1` is 10.0.0.1).
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let mut parts: Vec<u64> = Vec::with_capacity(4);
    for p in s.split('.') {
        if parts.len() == 4 {
            return None;
        }
        let (radix, digits) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X"))
        {
            (16, h)
        } else if p.len() > 1 && p.starts_with('0') {
            (8, &p[1..])
        } else {
            (10, p)
        };
        if p.is_empty() || (radix == 16 && digits.is_empty() && p.len() > 2) {
            return None;
        }
        let v = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        if digits.starts_with('+') || digits.starts_with('-') {
            return None;
        }
        parts.push(v);
    }
    let (last, init) = parts.split_last()?;
    if init.iter().any(|&v| v > 255) {
        return None;
    }
    let max_last = [u64::from(u32::MAX), 0xff_ffff, 0xffff, 0xff][init.len()];
    if *last > max_last {
        return None;
    }
    let mut out: u64 = 0;
    for (i, v) in init.iter().enumerate() {
        out |= v << (24 - 8 * i);
    }
    out |= last;
    Some(Ipv4Addr::from(u32::try_from(out).ok()?))
}

/// What `parse_service` set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parse {
    None,
    Addr,
    AddrPort,
}

/// ipvsadm's `parse_service`: `host[:port]`, `[v6]:port` or a bare IPv6 address, updating
/// `af`, `addr`, `port` (and the IPv6 default netmask) of `svc`.
fn parse_service(buf: &str, svc: &mut Svc, names: &dyn Names) -> Parse {
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        return Parse::None;
    }
    let mut host = buf;
    let mut portp: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let Some((h, after)) = inner.split_once(']') else {
            return Parse::None;
        };
        let Some(p) = after.strip_prefix(':') else {
            return Parse::None;
        };
        host = h;
        portp = Some(p);
    }
    if let Ok(a6) = host.parse::<Ipv6Addr>() {
        svc.addr = IpAddr::V6(a6);
        svc.af = Af::V6;
        svc.netmask = 128;
    } else {
        // ipvsadm looks for the port again here, in what is left of the string: for
        // "[1.2.3.4]:80" that is "1.2.3.4", so the port is lost (its behaviour, kept).
        portp = None;
        if let Some(i) = host.rfind(':') {
            portp = Some(&host[i + 1..]);
            host = &host[..i];
        }
        if let Some(a) = inet_aton(host).or_else(|| names.host_to_ipv4(host)) {
            svc.addr = IpAddr::V4(a);
            svc.af = Af::V4;
        } else {
            return Parse::None;
        }
    }
    let Some(p) = portp else {
        return Parse::Addr;
    };
    if let Some(n) = string_to_number(p, 0, 65535) {
        svc.port = u16::try_from(n).unwrap_or(0);
    } else if let Some(n) = svc
        .protocol
        .flatten()
        .and_then(|proto| names.service_to_port(p, proto))
    {
        svc.port = n;
    } else {
        return Parse::None;
    }
    Parse::AddrPort
}

fn parse_timeout(buf: Option<&str>, min: i64, max: i64) -> Result<u32, CliError> {
    let Some(b) = buf else {
        return Ok(DEF_PERSISTENT_TIMEOUT);
    };
    string_to_number(b, min, max)
        .map(to_u32)
        .ok_or_else(|| CliError::fail(format!("invalid timeout value `{b}' specified")))
}

fn generic_opt_check(cmd: Cmd, options: u64) -> Result<(), CliError> {
    let row = LEGAL[cmd as usize];
    let name = CMD_NAMES[cmd as usize];
    let mut last: Option<usize> = None;
    for (j, &rule) in row.iter().enumerate() {
        let set = options & (1u64 << j) != 0;
        if !set {
            if rule == b'+' {
                return Err(CliError::fail(format!(
                    "You need to supply the '{}' option for the '{name}' command",
                    OPT_NAMES[j]
                )));
            }
            continue;
        }
        if rule == b'x' {
            return Err(CliError::fail(format!(
                "Illegal '{}' option with the '{name}' command",
                OPT_NAMES[j]
            )));
        }
        if rule == b'1' {
            if let Some(l) = last {
                return Err(CliError::fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{name}' command",
                    OPT_NAMES[j], OPT_NAMES[l]
                )));
            }
            last = Some(j);
        }
    }
    Ok(())
}

fn tunnel_opt_check(tun_type: usize, options: u64) -> Result<(), CliError> {
    let name = TUN_NAMES[tun_type];
    let mut last: Option<usize> = None;
    for (j, &k) in TUN_OPTS.iter().enumerate() {
        let rule = TUN_LEGAL[tun_type][j];
        if options & (1u64 << k) == 0 {
            if rule == b'+' {
                return Err(CliError::fail(format!(
                    "You need to supply the '{}' option for the '{name}' tunnel type",
                    OPT_NAMES[k]
                )));
            }
            continue;
        }
        if rule == b'x' {
            return Err(CliError::fail(format!(
                "Illegal '{}' option with the '{name}' tunnel type",
                OPT_NAMES[k]
            )));
        }
        if rule == b'1' {
            if let Some(l) = last {
                return Err(CliError::fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{name}' tunnel type",
                    OPT_NAMES[k], OPT_NAMES[l]
                )));
            }
            last = Some(k);
        }
    }
    Ok(())
}

/// Check `-b` against the scheduler (`parse_sched_flags`); returns the flag names in order.
fn parse_sched_flags(sched: &str, arg: &str) -> Result<Vec<String>, CliError> {
    let sched = if sched.is_empty() { "wlc" } else { sched };
    let mut out = Vec::new();
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        // ipvsadm's generic flag-N take any scheduler (ferrovs refuses them later, by name).
        let needs = match flag {
            "flag-1" | "flag-2" | "flag-3" => None,
            _ => match flag.parse::<types::SchedFlag>() {
                Ok(f) => Some(f.scheduler().as_str()),
                Err(_) => return Err(CliError::fail(format!("invalid scheduler flag `{flag}'"))),
            },
        };
        if needs.is_some_and(|s| s != sched) {
            return Err(CliError::fail(format!(
                "incompatible scheduler flag `{flag}'"
            )));
        }
        if !out.iter().any(|f| f == flag) {
            out.push(flag.to_owned());
        }
    }
    Ok(out)
}

/// Parse one ipvsadm command line. `argv[0]` is the program name (used in the "Try" line);
/// `reading_stdin` is true for the lines of `-R`, where a nested `-R` is refused.
///
/// # Errors
///
/// ipvsadm's message and exit status for the first problem found.
pub fn parse(argv: &[String], reading_stdin: bool, names: &dyn Names) -> Result<Parsed, CliError> {
    let program = argv.first().map_or("ipvsadm", String::as_str);
    if argv.len() <= 1 && !reading_stdin {
        return Ok(Parsed::Command(Command::List(
            ListWhat::All,
            Format::default(),
        )));
    }
    let mut e = Entry {
        cmd: None,
        options: 0,
        format: Format::default(),
        svc: Svc::default(),
        dest: Dest {
            af: Af::Unspec,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            fwd: Fwd::Dr,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: 0,
        },
        timeouts: [0; 3],
        sched_flags_arg: String::new(),
        laddr_pool: None,
        daemon: None,
        mcast_ifn: None,
        mcast_group: None,
        mcast_port: None,
        mcast_ttl: None,
        syncid: None,
        sync_maxlen: None,
        wait_s: None,
        laddr: None,
        ifname: None,
    };
    let mut popt = Popt::new(argv);
    let mut daemon = false;

    // The first option must be the command.
    let first = match popt.next_opt() {
        Ok(Some(g)) => g,
        _ => return Err(CliError::try_help(program)),
    };
    match first.tag {
        Tag::AddService => set_command(&mut e.cmd, Cmd::Add)?,
        Tag::EditService => set_command(&mut e.cmd, Cmd::Edit)?,
        Tag::DeleteService => set_command(&mut e.cmd, Cmd::Del)?,
        Tag::AddServer => set_command(&mut e.cmd, Cmd::AddDest)?,
        Tag::EditServer => set_command(&mut e.cmd, Cmd::EditDest)?,
        Tag::DeleteServer => set_command(&mut e.cmd, Cmd::DelDest)?,
        Tag::Clear => set_command(&mut e.cmd, Cmd::Flush)?,
        Tag::List => set_command(&mut e.cmd, Cmd::List)?,
        Tag::Zero => set_command(&mut e.cmd, Cmd::Zero)?,
        Tag::Set => set_command(&mut e.cmd, Cmd::Timeout)?,
        Tag::Restore => set_command(&mut e.cmd, Cmd::Restore)?,
        Tag::Save => set_command(&mut e.cmd, Cmd::Save)?,
        Tag::Reload => set_command(&mut e.cmd, Cmd::Reload)?,
        Tag::Ready => set_command(&mut e.cmd, Cmd::Ready)?,
        Tag::Drain => set_command(&mut e.cmd, Cmd::Drain)?,
        Tag::Undrain => set_command(&mut e.cmd, Cmd::Undrain)?,
        Tag::AddLaddr => set_command(&mut e.cmd, Cmd::AddLaddr)?,
        Tag::DelLaddr => set_command(&mut e.cmd, Cmd::DelLaddr)?,
        Tag::GetLaddr => set_command(&mut e.cmd, Cmd::GetLaddr)?,
        Tag::StartDaemon | Tag::StopDaemon => {
            let start = first.tag == Tag::StartDaemon;
            set_command(
                &mut e.cmd,
                if start {
                    Cmd::StartDaemon
                } else {
                    Cmd::StopDaemon
                },
            )?;
            match first.value.as_deref() {
                Some("master") => e.daemon = Some(DaemonState::Master),
                Some("backup") => e.daemon = Some(DaemonState::Backup),
                _ if start => {
                    return Err(CliError::fail("illegal start-daemon parameter specified"))
                }
                _ => return Err(CliError::fail("illegal start_daemon specified")),
            }
        }
        Tag::Help => return Ok(Parsed::Help),
        Tag::Version => return Ok(Parsed::Version),
        _ => return Err(CliError::try_help(program)),
    }
    popt.b_is_fullnat = matches!(e.cmd, Some(Cmd::AddDest | Cmd::EditDest));

    loop {
        let got = match popt.next_opt() {
            Ok(Some(g)) => g,
            Ok(None) => break,
            Err((err, word)) => {
                return Err(CliError {
                    message: format!("{word}: {}", err.text()),
                    exit_code: 255,
                })
            }
        };
        take_option(&mut e, &got, names, &mut daemon, &popt.last_word)?;
    }

    let cmd = e.cmd.unwrap_or(Cmd::List);
    let mut leftovers = popt.leftovers.into_iter();
    if cmd == Cmd::Timeout {
        let (Some(a), Some(b), Some(c)) = (leftovers.next(), leftovers.next(), leftovers.next())
        else {
            return Err(CliError::fail("--set option requires 3 timeout values"));
        };
        e.timeouts = [
            parse_timeout(Some(&a), 0, MAX_TIMEOUT)?,
            parse_timeout(Some(&b), 0, MAX_TIMEOUT)?,
            parse_timeout(Some(&c), 0, MAX_TIMEOUT)?,
        ];
    }
    if let Some(extra) = leftovers.next() {
        return Err(CliError::fail(format!("unexpected argument {extra}")));
    }
    let sched_flags = if e.sched_flags_arg.is_empty() {
        Vec::new()
    } else {
        parse_sched_flags(&e.svc.sched_name, &e.sched_flags_arg)?
    };

    generic_opt_check(cmd, e.options)?;
    check_command(cmd, &mut e, reading_stdin, program)?;
    check_supported(&e, &sched_flags)?;
    let command = build_command(cmd, &e, sched_flags, daemon, program)?;
    Ok(Parsed::Command(command))
}

/// Record one option that follows the command in `e` (the body of ipvsadm's option loop).
fn take_option(
    e: &mut Entry,
    got: &Got,
    names: &dyn Names,
    daemon: &mut bool,
    last_word: &str,
) -> Result<(), CliError> {
    let v = got.value.as_deref();
    let val = || v.unwrap_or_default();
    match got.tag {
        Tag::Tcp | Tag::Udp | Tag::Sctp => {
            set_option(&mut e.options, OPTC_SERVICE)?;
            e.svc.protocol = Some(match got.tag {
                Tag::Tcp => Some(Proto::Tcp),
                Tag::Udp => Some(Proto::Udp),
                _ => None,
            });
            if parse_service(val(), &mut e.svc, names) == Parse::None {
                return Err(CliError::fail(
                    "illegal virtual server address[:port] specified",
                ));
            }
        }
        Tag::Fwmark => {
            set_option(&mut e.options, OPTC_SERVICE)?;
            e.svc.af = Af::V4;
            e.svc.protocol = Some(Some(Proto::Tcp));
            let b = val();
            match strtol_full(b) {
                Some(n) if n > 0 && n <= i64::from(u32::MAX) => e.svc.fwmark = to_u32(n),
                _ => {
                    return Err(CliError::fail(format!(
                        "invalid fwmark value `{b}' specified"
                    )))
                }
            }
        }
        Tag::Scheduler => {
            set_option(&mut e.options, OPTC_SCHEDULER)?;
            val().clone_into(&mut e.svc.sched_name);
        }
        Tag::Persistent => {
            set_option(&mut e.options, OPTC_PERSISTENT)?;
            e.svc.persistent = true;
            e.svc.timeout = parse_timeout(v, 1, MAX_TIMEOUT)?;
        }
        Tag::Netmask => {
            set_option(&mut e.options, OPTC_NETMASK)?;
            if e.svc.af == Af::V6 {
                let n = atoi(val());
                if !(1..=128).contains(&n) {
                    return Err(CliError::fail("illegal ipv6 netmask specified"));
                }
                e.svc.netmask = to_u32(n);
            } else {
                match inet_aton(val()).or_else(|| names.host_to_ipv4(val())) {
                    Some(m) => e.svc.netmask = u32::from(m),
                    None => {
                        return Err(CliError::fail(
                            "illegal virtual server persistent mask specified",
                        ))
                    }
                }
            }
        }
        Tag::Real => {
            set_option(&mut e.options, OPTC_SERVER)?;
            let mut t = e.svc.clone();
            let parse = parse_service(val(), &mut t, names);
            e.dest.af = t.af;
            e.dest.addr = t.addr;
            e.dest.port = t.port;
            if parse == Parse::None {
                return Err(CliError::fail(
                    "illegal real server address[:port] specified",
                ));
            }
            if parse == Parse::Addr {
                e.dest.port = e.svc.port;
            }
        }
        Tag::Ipip | Tag::Gate | Tag::Masq | Tag::FullNat => {
            set_option(&mut e.options, OPTC_FORWARD)?;
            e.dest.fwd = match got.tag {
                Tag::Ipip => Fwd::Tun,
                Tag::Gate => Fwd::Dr,
                Tag::Masq => Fwd::Nat,
                _ => Fwd::FullNat,
            };
        }
        Tag::Weight => {
            set_option(&mut e.options, OPTC_WEIGHT)?;
            e.dest.weight = string_to_number(val(), 0, 65535)
                .map(to_u32)
                .ok_or_else(|| CliError::fail("illegal weight specified"))?;
        }
        Tag::UThreshold => {
            set_option(&mut e.options, OPTC_UTHRESHOLD)?;
            e.dest.u_threshold = string_to_number(val(), 0, i64::from(i32::MAX))
                .map(to_u32)
                .ok_or_else(|| CliError::fail("illegal u_threshold specified"))?;
        }
        Tag::LThreshold => {
            set_option(&mut e.options, OPTC_LTHRESHOLD)?;
            e.dest.l_threshold = string_to_number(val(), 0, i64::from(i32::MAX))
                .map(to_u32)
                .ok_or_else(|| CliError::fail("illegal l_threshold specified"))?;
        }
        Tag::Connection => set_option(&mut e.options, OPTC_CONNECTION)?,
        Tag::Numeric => {
            set_option(&mut e.options, OPTC_NUMERIC)?;
            e.format.numeric = true;
        }
        Tag::McastInterface => {
            set_option(&mut e.options, OPTC_MCAST)?;
            e.mcast_ifn = Some(val().to_owned());
        }
        Tag::SyncId => {
            set_option(&mut e.options, OPTC_SYNCID)?;
            let n = string_to_number(val(), 0, 255)
                .ok_or_else(|| CliError::fail("illegal syncid specified"))?;
            e.syncid = u8::try_from(n).ok();
        }
        Tag::Timeout => set_option(&mut e.options, OPTC_TIMEOUT)?,
        Tag::Daemon => {
            set_option(&mut e.options, OPTC_DAEMON)?;
            *daemon = true;
        }
        Tag::Stats => {
            set_option(&mut e.options, OPTC_STATS)?;
            e.format.stats = true;
        }
        Tag::Rate => {
            set_option(&mut e.options, OPTC_RATE)?;
            e.format.rate = true;
        }
        Tag::Thresholds => {
            set_option(&mut e.options, OPTC_THRESHOLDS)?;
            e.format.thresholds = true;
        }
        Tag::PersistentConn => {
            set_option(&mut e.options, OPTC_PERSISTENTCONN)?;
            e.format.persistent_conn = true;
        }
        Tag::NoSort => {
            set_option(&mut e.options, OPTC_NOSORT)?;
            e.format.nosort = true;
        }
        Tag::Sort => {}
        Tag::Exact => {
            set_option(&mut e.options, OPTC_EXACT)?;
            e.format.exact = true;
        }
        Tag::Ipv6 => {
            if e.svc.fwmark != 0 {
                e.svc.af = Af::V6;
                e.svc.netmask = 128;
            } else {
                // ipvsadm's message carries its own newline before fail() adds one.
                return Err(CliError::fail("-6 used before -f\n"));
            }
        }
        Tag::Ops => {
            set_option(&mut e.options, OPTC_ONEPACKET)?;
            e.svc.ops = true;
        }
        Tag::Pe => {
            set_option(&mut e.options, OPTC_PE)?;
            e.svc.pe = Some(val().to_owned());
        }
        Tag::SchedFlags => {
            set_option(&mut e.options, OPTC_SCHED_FLAGS)?;
            val().clone_into(&mut e.sched_flags_arg);
        }
        Tag::McastGroup => {
            set_option(&mut e.options, OPTC_MCAST_GROUP)?;
            let b = val();
            if b.contains(':') {
                match b.parse::<Ipv6Addr>() {
                    Ok(a) if a.is_multicast() => e.mcast_group = Some(a.into()),
                    _ => return Err(CliError::fail(format!("invalid IPv6 mcast-group `{b}'"))),
                }
            } else {
                match b.parse::<Ipv4Addr>() {
                    Ok(a) if a.is_multicast() => e.mcast_group = Some(a.into()),
                    _ => return Err(CliError::fail(format!("invalid IPv4 mcast-group `{b}'"))),
                }
            }
        }
        Tag::McastPort => {
            set_option(&mut e.options, OPTC_MCAST_PORT)?;
            match string_to_number(val(), 1, 65535).and_then(|n| u16::try_from(n).ok()) {
                Some(n) => e.mcast_port = Some(n),
                None => return Err(CliError::fail("illegal mcast-port specified")),
            }
        }
        Tag::McastTtl => {
            set_option(&mut e.options, OPTC_MCAST_TTL)?;
            match string_to_number(val(), 1, 255).and_then(|n| u8::try_from(n).ok()) {
                Some(n) => e.mcast_ttl = Some(n),
                None => return Err(CliError::fail("illegal mcast-ttl specified")),
            }
        }
        Tag::SyncMaxlen => {
            set_option(&mut e.options, OPTC_SYNC_MAXLEN)?;
            let n = string_to_number(val(), 1, 65535 - 20 - 8)
                .ok_or_else(|| CliError::fail("illegal sync-maxlen specified"))?;
            e.sync_maxlen = u16::try_from(n).ok();
        }
        Tag::TunInfo => {
            set_option(&mut e.options, OPTC_TUN_INFO)?;
            e.format.tun_info = true;
        }
        Tag::TunType => {
            set_option(&mut e.options, OPTC_TUN_TYPE)?;
            e.dest.tun_type = TUN_NAMES
                .iter()
                .position(|n| *n == val())
                .ok_or_else(|| CliError::fail("illegal tunnel type specified"))?;
        }
        Tag::TunPort => {
            set_option(&mut e.options, OPTC_TUN_PORT)?;
            if string_to_number(val(), 1, 65535).is_none() {
                return Err(CliError::fail("illegal tunnel port specified"));
            }
        }
        Tag::TunNocsum => set_option(&mut e.options, OPTC_TUN_NOCSUM)?,
        Tag::TunCsum => set_option(&mut e.options, OPTC_TUN_CSUM)?,
        Tag::TunRemcsum => set_option(&mut e.options, OPTC_TUN_REMCSUM)?,
        Tag::LaddrPool => {
            set_option(&mut e.options, OPTC_LADDR_POOL)?;
            e.laddr_pool = Some(val().to_owned());
        }
        Tag::Health => {
            set_option(&mut e.options, OPTC_HEALTH)?;
            e.format.health = true;
        }
        Tag::Ha => set_option(&mut e.options, OPTC_HA)?,
        Tag::Announce => set_option(&mut e.options, OPTC_ANNOUNCE)?,
        Tag::SynProxy => set_option(&mut e.options, OPTC_SYN_PROXY)?,
        Tag::Wait => {
            set_option(&mut e.options, OPTC_WAIT)?;
            e.wait_s = Some(
                string_to_number(val(), 0, MAX_WAIT)
                    .map(to_u32)
                    .ok_or_else(|| {
                        CliError::fail(format!("invalid wait value `{}' specified", val()))
                    })?,
            );
        }
        Tag::Laddr => {
            set_option(&mut e.options, OPTC_LADDR)?;
            // DPVS parses -z as a service address and keeps the address part.
            let mut t = Svc::default();
            if parse_service(val(), &mut t, names) == Parse::None {
                return Err(CliError::fail("illegal local address"));
            }
            e.laddr = Some(t.addr);
        }
        Tag::Ifname => {
            set_option(&mut e.options, OPTC_IFNAME)?;
            e.ifname = Some(val().to_owned());
        }
        // A command or -h/-v after the first option: popt builds of ipvsadm report the
        // word as an invalid option.
        _ => return Err(CliError::fail(format!("invalid option `{}'", last_word))),
    }
    Ok(())
}

/// ipvsadm's checks of a whole command line, after the legality table.
fn check_command(
    cmd: Cmd,
    e: &mut Entry,
    reading_stdin: bool,
    program: &str,
) -> Result<(), CliError> {
    if matches!(cmd, Cmd::Add | Cmd::Edit) {
        if e.svc.fwmark == 0 && e.svc.port == 0 && !e.svc.persistent {
            return Err(CliError::fail(
                "Zero port specified for non-persistent service",
            ));
        }
        if e.svc.ops && e.svc.fwmark == 0 && e.svc.protocol != Some(Some(Proto::Udp)) {
            return Err(CliError::fail(
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
        if e.svc.sched_name.is_empty() {
            "wlc".clone_into(&mut e.svc.sched_name);
        }
    }
    if matches!(cmd, Cmd::AddDest | Cmd::EditDest) {
        if e.svc.fwmark == 0 && matches!(e.dest.fwd, Fwd::Tun | Fwd::Dr) {
            e.dest.port = e.svc.port;
        }
        if e.dest.af != e.svc.af && e.dest.fwd != Fwd::Tun {
            return Err(CliError::fail(
                "Different address family is allowed only for tunneling servers",
            ));
        }
        let tun_bits = [
            OPTC_TUN_TYPE,
            OPTC_TUN_PORT,
            OPTC_TUN_NOCSUM,
            OPTC_TUN_CSUM,
            OPTC_TUN_REMCSUM,
        ]
        .iter()
        .fold(0u64, |m, &o| m | 1 << o);
        if e.options & tun_bits != 0 && e.dest.fwd != Fwd::Tun {
            return Err(CliError::fail(
                "Tunnel options conflict with forward method",
            ));
        }
        tunnel_opt_check(e.dest.tun_type, e.options)?;
    }
    if cmd == Cmd::List {
        let has = |o: usize| e.options & (1u64 << o) != 0;
        // `--health` (ferrovs) adds a column to the service listings only; `--ha` (ferrovs)
        // lists something else entirely, so only -n goes with it.
        let ha_conflict =
            has(OPTC_HA) && e.options & !(1u64 << OPTC_HA | 1u64 << OPTC_NUMERIC) != 0;
        let announce_conflict =
            has(OPTC_ANNOUNCE) && e.options & !(1u64 << OPTC_ANNOUNCE | 1u64 << OPTC_NUMERIC) != 0;
        // `--syn-proxy` (ferrovs) lists the services' SYN proxy state: -n and one service go
        // with it.
        let syn_proxy_conflict = has(OPTC_SYN_PROXY)
            && e.options & !(1u64 << OPTC_SYN_PROXY | 1u64 << OPTC_NUMERIC | 1u64 << OPTC_SERVICE)
                != 0;
        if ((has(OPTC_CONNECTION) || has(OPTC_TIMEOUT) || has(OPTC_DAEMON))
            && (has(OPTC_STATS) || has(OPTC_RATE) || has(OPTC_THRESHOLDS) || has(OPTC_HEALTH)))
            || ((has(OPTC_TIMEOUT) || has(OPTC_DAEMON)) && has(OPTC_PERSISTENTCONN))
            || ha_conflict
            || announce_conflict
            || syn_proxy_conflict
        {
            return Err(CliError::fail("options conflicts in the list command"));
        }
    }
    if cmd == Cmd::Restore && reading_stdin {
        return Err(CliError::try_help(program));
    }
    Ok(())
}

/// What ferrovs cannot do, once every ipvsadm check has passed.
fn check_supported(e: &Entry, sched_flags: &[String]) -> Result<(), CliError> {
    if e.svc.fwmark != 0 {
        return Err(CliError::unsupported("fwmark services (-f) are"));
    }
    if e.svc.protocol == Some(None) {
        return Err(CliError::unsupported("SCTP services (--sctp-service) are"));
    }
    if e.svc.ops {
        return Err(CliError::unsupported("one-packet scheduling (-o) is"));
    }
    if let Some(f) = sched_flags.iter().find(|f| f.starts_with("flag-")) {
        return Err(CliError::unsupported(&format!("scheduler flag `{f}' is")));
    }
    if e.dest.tun_type != 0 {
        return Err(CliError::unsupported(&format!(
            "tunnel type `{}' is",
            TUN_NAMES[e.dest.tun_type]
        )));
    }
    Ok(())
}

/// The parsed command line as the command it asks for.
fn build_command(
    cmd: Cmd,
    e: &Entry,
    sched_flags: Vec<String>,
    daemon: bool,
    program: &str,
) -> Result<Command, CliError> {
    let key = || ServiceKey {
        protocol: e.svc.protocol.flatten().unwrap_or(Proto::Tcp),
        vip: e.svc.addr,
        port: e.svc.port,
    };
    let has_service = e.options & (1u64 << OPTC_SERVICE) != 0;
    let command = match cmd {
        Cmd::Add | Cmd::Edit => {
            let default_mask = if e.svc.af == Af::V6 { 128 } else { u32::MAX };
            let spec = ServiceSpec {
                key: key(),
                scheduler: e.svc.sched_name.clone(),
                sched_flags,
                persistence_s: e.svc.persistent.then_some(e.svc.timeout),
                netmask: (e.svc.netmask != default_mask).then_some(e.svc.netmask),
                pe: e.svc.pe.clone(),
                laddr_pool: e.laddr_pool.clone(),
            };
            Command::Apply(if cmd == Cmd::Add {
                Op::AddService(spec)
            } else {
                Op::EditService(spec)
            })
        }
        Cmd::Del => Command::Apply(Op::DeleteService(key())),
        Cmd::Flush => Command::Apply(Op::Clear),
        Cmd::AddDest | Cmd::EditDest => {
            let server = ServerSpec {
                address: e.dest.addr,
                port: e.dest.port,
                forward: e.dest.fwd,
                weight: e.dest.weight,
                u_threshold: e.dest.u_threshold,
                l_threshold: e.dest.l_threshold,
            };
            Command::Apply(if cmd == Cmd::AddDest {
                Op::AddServer {
                    service: key(),
                    server,
                }
            } else {
                Op::EditServer {
                    service: key(),
                    server,
                }
            })
        }
        Cmd::DelDest => Command::Apply(Op::DeleteServer {
            service: key(),
            address: e.dest.addr,
            port: e.dest.port,
        }),
        Cmd::Timeout => Command::Apply(Op::SetTimeouts {
            tcp_s: e.timeouts[0],
            tcpfin_s: e.timeouts[1],
            udp_s: e.timeouts[2],
        }),
        Cmd::List => {
            let has = |o: usize| e.options & (1u64 << o) != 0;
            let what = if has(OPTC_HA) {
                ListWhat::Ha
            } else if has(OPTC_ANNOUNCE) {
                ListWhat::Announce
            } else if has(OPTC_SYN_PROXY) {
                ListWhat::SynProxy(has_service.then(key))
            } else if has(OPTC_CONNECTION) {
                ListWhat::Connections
            } else if has_service {
                ListWhat::Service(key())
            } else if has(OPTC_TIMEOUT) {
                ListWhat::Timeout
            } else if daemon {
                ListWhat::Daemon
            } else {
                ListWhat::All
            };
            Command::List(what, e.format)
        }
        Cmd::Save => Command::Save(e.format),
        Cmd::Zero => Command::Zero(has_service.then(key)),
        Cmd::Restore => Command::Restore,
        Cmd::Reload => Command::Reload,
        Cmd::Ready => Command::Ready,
        Cmd::StartDaemon => Command::StartDaemon(DaemonSpec {
            state: e.daemon.ok_or_else(|| CliError::try_help(program))?,
            mcast_interface: e.mcast_ifn.clone(),
            syncid: e.syncid,
            maxlen: e.sync_maxlen,
            group: e.mcast_group,
            mcast_port: e.mcast_port,
            ttl: e.mcast_ttl,
        }),
        Cmd::StopDaemon => {
            Command::StopDaemon(e.daemon.ok_or_else(|| CliError::try_help(program))?)
        }
        Cmd::Drain => Command::Drain {
            drained: true,
            wait_s: e.wait_s,
        },
        Cmd::Undrain => Command::Drain {
            drained: false,
            wait_s: None,
        },
        Cmd::AddLaddr | Cmd::DelLaddr => {
            let (address, port) = (
                e.laddr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                e.ifname.clone().unwrap_or_default(),
            );
            Command::Apply(if cmd == Cmd::AddLaddr {
                Op::AddLaddr {
                    service: key(),
                    address,
                    port,
                }
            } else {
                Op::DelLaddr {
                    service: key(),
                    address,
                    port,
                }
            })
        }
        Cmd::GetLaddr => Command::Laddrs(has_service.then(key)),
    };
    Ok(command)
}

/// Split restore input (`-R`, `ipvsadm-save` output) into command lines, each with its line
/// number and words, `argv[0]` = `program`. As ipvsadm's reader does, a word `ipvsadm` is
/// dropped wherever it appears and lines without words are skipped; lines whose first word
/// starts with `#` are skipped (ipvsadm-restore's `grep -v '^#'`), and a word starting with `#`
/// ends the line.
pub fn restore_lines(text: &str, program: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut argv = vec![program.to_owned()];
        for w in line.split_ascii_whitespace() {
            if w.starts_with('#') {
                break;
            }
            if w != "ipvsadm" {
                argv.push(w.to_owned());
            }
        }
        if argv.len() > 1 {
            out.push((i + 1, argv));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_aton_accepts_what_c_accepts() {
        let ok = [
            ("10.0.0.1", "10.0.0.1"),
            ("10.1", "10.0.0.1"),
            ("10.1.2", "10.1.0.2"),
            ("167772161", "10.0.0.1"),
            ("0x0a.0.0.1", "10.0.0.1"),
            ("012.0.0.1", "10.0.0.1"),
            ("255.255.255.0", "255.255.255.0"),
        ];
        for (s, want) in ok {
            assert_eq!(
                inet_aton(s).map(|a| a.to_string()).as_deref(),
                Some(want),
                "{s}"
            );
        }
        for bad in [
            "",
            "1.2.3.4.5",
            "256.0.0.1",
            "1..2",
            "a.b.c.d",
            "08.0.0.1",
            "1.2.3.256",
            "web",
        ] {
            assert_eq!(inet_aton(bad), None, "{bad}");
        }
    }

    #[test]
    fn strtol_rules() {
        assert_eq!(string_to_number(" +80", 0, 65535), Some(80));
        assert_eq!(string_to_number("80 ", 0, 65535), None);
        assert_eq!(string_to_number("", 0, 65535), None);
        assert_eq!(string_to_number("65536", 0, 65535), None);
        assert_eq!(string_to_number("99999999999999999999", 0, 65535), None);
        assert_eq!(atoi("64abc"), 64);
    }

    #[test]
    fn socket_option_is_taken_anywhere() {
        let mut argv: Vec<String> = [
            "ferrovsadm",
            "--socket",
            "/tmp/a",
            "-L",
            "--socket=/tmp/b",
            "-n",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(take_socket_option(&mut argv), Ok(Some("/tmp/b".into())));
        assert_eq!(argv, ["ferrovsadm", "-L", "-n"]);
    }

    #[test]
    fn restore_lines_follow_config_stream() {
        let text =
            "# saved\n-A -t 10.0.0.1:80 -s rr\n\nipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 # c\n  \n";
        let lines = restore_lines(text, "ipvsadm");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, 2);
        assert_eq!(
            lines[1].1,
            ["ipvsadm", "-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2"]
        );
    }
}
