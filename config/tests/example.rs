//! The shipped example parses, validates, round-trips, and every key it uses is documented.

use std::collections::BTreeSet;
use std::path::Path;

fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn example_parses_and_validates() {
    let c = match config::load(&repo("examples/ferrovs.toml")) {
        Ok(c) => c,
        Err(e) => panic!("example does not validate:\n{e}"),
    };
    assert_eq!(c.ports.len(), 2);
    assert_eq!(c.services.len(), 3);
    let fwd: Vec<_> = c.services.iter().map(|s| s.forward).collect();
    assert_eq!(
        fwd,
        [
            config::Forward::FullNat,
            config::Forward::Dr,
            config::Forward::Nat
        ]
    );
    assert_eq!(c.services[2].protocol, config::Protocol::Udp);
    assert_eq!(c.routes[1].port, "lan0");
}

#[test]
fn example_round_trips() {
    let c = config::load(&repo("examples/ferrovs.toml")).expect("example validates");
    let text = c.to_toml();
    let back = config::parse(&text, "export.toml").unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
    assert_eq!(back, c);
}

/// Collect the dotted key paths (array indexes dropped) a TOML document uses.
fn key_paths(v: &toml::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                key_paths(v, &p, out);
            }
        }
        toml::Value::Array(a) => {
            for v in a {
                key_paths(v, prefix, out);
            }
        }
        _ => {}
    }
}

/// Every key path that appears in backticks in the first column of a table in docs/config.md.
fn documented_keys() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(repo("docs/config.md")).expect("docs/config.md exists");
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_owned()))
        .collect()
}

#[test]
fn every_example_key_is_documented() {
    let text = std::fs::read_to_string(repo("examples/ferrovs.toml")).expect("example exists");
    let v: toml::Value = toml::from_str(&text).expect("example is TOML");
    let mut used = BTreeSet::new();
    key_paths(&v, "", &mut used);
    let documented = documented_keys();
    let missing: Vec<_> = used.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "keys in examples/ferrovs.toml missing from docs/config.md: {missing:?}"
    );
}

/// Table path -> a config whose table at that path holds the unknown key `zz_bogus`.
fn probe(table: &str) -> String {
    let port = "[[port]]\nname = \"p0\"\ndevice = \"net_null0\"\naddresses = [\"198.18.0.2/24\"]\n";
    let svc = "[[service]]\nvip = \"198.18.0.10\"\nport = 80\n";
    let rs = "[[service.real_server]]\naddress = \"198.18.0.11\"\n";
    match table {
        "" => format!("zz_bogus = 1\n{port}"),
        "port" => format!("{port}zz_bogus = 1\n"),
        "port.exception_path" => format!("{port}exception_path = {{ tap = \"t\", zz_bogus = 1 }}\n"),
        "dpdk" | "timeouts" | "control" | "ha" | "sync" | "announce" | "admission" | "syn_proxy" => format!("{port}[{table}]\nzz_bogus = 1\n"),
        "route" => format!("{port}[[route]]\nprefix = \"10.0.0.0/8\"\nvia = \"198.18.0.1\"\nzz_bogus = 1\n"),
        "neighbour" => format!(
            "{port}[[neighbour]]\naddress = \"198.18.0.9\"\nmac = \"02:00:00:00:00:09\"\nzz_bogus = 1\n"
        ),
        "local_address_pool" => format!(
            "{port}[[local_address_pool]]\nname = \"a\"\naddresses = [\"198.18.0.9\"]\nzz_bogus = 1\n"
        ),
        "service" => format!("{port}{svc}zz_bogus = 1\n"),
        "service.health_check" => format!("{port}{svc}[service.health_check]\ntype = \"tcp\"\nzz_bogus = 1\n"),
        "service.real_server" => format!("{port}{svc}{rs}zz_bogus = 1\n"),
        "service.real_server.health_check" => format!(
            "{port}{svc}{rs}[service.real_server.health_check]\ntype = \"tcp\"\nzz_bogus = 1\n"
        ),
        other => panic!("no probe for table {other:?}; add one"),
    }
}

/// The key names the schema accepts in `table`, from its unknown-key error.
fn schema_keys(table: &str) -> Vec<String> {
    let errors = config::parse(&probe(table), "probe.toml").expect_err("probe has an unknown key");
    let e = errors
        .iter()
        .find(|e| e.key_path.ends_with("zz_bogus"))
        .unwrap_or_else(|| panic!("no unknown-key error for {table:?}: {errors}"));
    let list = e
        .message
        .strip_prefix("unknown key; expected one of: ")
        .expect("unknown-key message");
    list.split(", ").map(str::to_owned).collect()
}

#[test]
fn docs_and_schema_list_the_same_keys() {
    let documented = documented_keys();
    let tables: BTreeSet<String> = documented
        .iter()
        .map(|k| {
            k.rsplit_once('.')
                .map_or(String::new(), |(t, _)| t.to_owned())
        })
        .collect();
    let mut schema = BTreeSet::new();
    for t in &tables {
        for k in schema_keys(t) {
            schema.insert(if t.is_empty() { k } else { format!("{t}.{k}") });
        }
    }
    let undocumented: Vec<_> = schema.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&schema).collect();
    assert!(
        undocumented.is_empty(),
        "schema keys missing from docs/config.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/config.md documents keys the schema rejects: {unknown:?}"
    );
}
