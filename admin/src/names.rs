//! Host and service names, as ipvsadm resolves them.
//!
//! ipvsadm uses the C resolver: `gethostbyname`/`getservbyname` to read `-t www:http`, and
//! `gethostbyaddr`/`getservbyport` to print names when `-n` is absent. ferrovs reads the same
//! files the C library reads first under the usual `hosts: files dns` / `services: files`
//! configuration, `/etc/hosts` and `/etc/services`, and for host names that are not in
//! `/etc/hosts` asks the system resolver through `std::net::ToSocketAddrs` (getaddrinfo). Reverse
//! lookups stop at `/etc/hosts`: no reverse DNS, so a listing without `-n` never hangs on a dead
//! name server; an address without an `/etc/hosts` entry prints numerically, as ipvsadm prints
//! one whose reverse lookup fails.
//!
//! [`Names`] is a trait so tests (and `-n`) can use fixed tables.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

use crate::proto::Proto;

/// Name lookups used by the grammar and the formatters.
pub trait Names {
    /// Resolve a host name to an IPv4 address (ipvsadm's `host_to_addr` is IPv4-only).
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr>;
    /// Resolve a service name (`http`) for `proto`.
    fn service_to_port(&self, name: &str, proto: Proto) -> Option<u16>;
    /// The name of an address, if it has one.
    fn addr_to_host(&self, addr: IpAddr) -> Option<String>;
    /// The service name of a port, if it has one.
    fn port_to_service(&self, port: u16, proto: Proto) -> Option<String>;
}

/// Fixed name tables: `/etc/hosts` and `/etc/services` contents, parsed.
#[derive(Clone, Debug, Default)]
pub struct NameTables {
    host_to_addr: HashMap<String, IpAddr>,
    addr_to_host: HashMap<IpAddr, String>,
    service_to_port: HashMap<(String, Proto), u16>,
    port_to_service: HashMap<(u16, Proto), String>,
}

impl NameTables {
    /// Build tables from the text of an `/etc/hosts` and an `/etc/services` file.
    pub fn from_texts(hosts: &str, services: &str) -> Self {
        let mut t = Self::default();
        for line in hosts.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(Ok(addr)) = words.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            for (i, name) in words.enumerate() {
                // The canonical name (first) is what gethostbyaddr returns; the first line
                // naming an address or a name wins, as in the C library's files backend.
                if i == 0 {
                    t.addr_to_host
                        .entry(addr)
                        .or_insert_with(|| name.to_owned());
                }
                t.host_to_addr.entry(name.to_owned()).or_insert(addr);
            }
        }
        for line in services.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(pp)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            let proto = match proto {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                _ => continue,
            };
            t.port_to_service
                .entry((port, proto))
                .or_insert_with(|| name.to_owned());
            for n in std::iter::once(name).chain(words) {
                t.service_to_port
                    .entry((n.to_owned(), proto))
                    .or_insert(port);
            }
        }
        t
    }

    /// Read `/etc/hosts` and `/etc/services`; a missing file is an empty table.
    pub fn system() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        Self::from_texts(&read("/etc/hosts"), &read("/etc/services"))
    }
}

impl Names for NameTables {
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        match self.host_to_addr.get(name) {
            Some(IpAddr::V4(a)) => Some(*a),
            _ => None,
        }
    }

    fn service_to_port(&self, name: &str, proto: Proto) -> Option<u16> {
        self.service_to_port.get(&(name.to_owned(), proto)).copied()
    }

    fn addr_to_host(&self, addr: IpAddr) -> Option<String> {
        self.addr_to_host.get(&addr).cloned()
    }

    fn port_to_service(&self, port: u16, proto: Proto) -> Option<String> {
        self.port_to_service.get(&(port, proto)).cloned()
    }
}

/// The system's names: `/etc/hosts` and `/etc/services`, then getaddrinfo for forward host
/// lookups only.
#[derive(Debug)]
pub struct SystemNames {
    tables: NameTables,
}

impl SystemNames {
    /// Read the system files now.
    pub fn load() -> Self {
        Self {
            tables: NameTables::system(),
        }
    }
}

impl Names for SystemNames {
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        if let Some(a) = self.tables.host_to_ipv4(name) {
            return Some(a);
        }
        (name, 0)
            .to_socket_addrs()
            .ok()?
            .find_map(|sa| match sa.ip() {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
    }

    fn service_to_port(&self, name: &str, proto: Proto) -> Option<u16> {
        self.tables.service_to_port(name, proto)
    }

    fn addr_to_host(&self, addr: IpAddr) -> Option<String> {
        self.tables.addr_to_host(addr)
    }

    fn port_to_service(&self, port: u16, proto: Proto) -> Option<String> {
        self.tables.port_to_service(port, proto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_follow_the_files_backend() {
        let t = NameTables::from_texts(
            "127.0.0.1 localhost\n10.0.0.1 web1.example web1 # front\n10.0.0.1 other\n::1 ip6-localhost\n",
            "http 80/tcp www # WorldWideWeb\nhttp 80/udp\ndomain 53/tcp\ndomain 53/udp\nbad x/tcp\n",
        );
        assert_eq!(t.host_to_ipv4("web1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(t.host_to_ipv4("ip6-localhost"), None, "IPv4 only");
        assert_eq!(
            t.addr_to_host("10.0.0.1".parse().expect("ip")).as_deref(),
            Some("web1.example")
        );
        assert_eq!(t.service_to_port("www", Proto::Tcp), Some(80));
        assert_eq!(t.service_to_port("www", Proto::Udp), None);
        assert_eq!(t.port_to_service(53, Proto::Udp).as_deref(), Some("domain"));
        assert_eq!(t.port_to_service(8080, Proto::Tcp), None);
    }
}
