//! 固定 IP: the fixed addresses a participant may connect from.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::Invalid;

/// One allowlist entry: a single IPv4/IPv6 address or a CIDR block.
///
/// Parsing normalises the block (host bits cleared) and stores IPv4-mapped
/// IPv6 addresses (`::ffff:a.b.c.d`) as plain IPv4, so that an entry matches
/// the same clients whichever socket family the hub listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRange(IpNet);

impl IpRange {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        let net = if s.contains('/') {
            s.parse::<IpNet>().map_err(|_| Invalid::new("IP", format!("'{s}' is not an address or CIDR block")))?
        } else {
            let ip = s
                .parse::<IpAddr>()
                .map_err(|_| Invalid::new("IP", format!("'{s}' is not an address or CIDR block")))?;
            IpNet::from(canonical(ip))
        };
        let net = match net {
            IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                Some(v4) if v6.prefix_len() >= 96 => {
                    IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).expect("prefix within range")
                }
                _ => net,
            },
            IpNet::V4(_) => net,
        };
        Ok(IpRange(net.trunc()))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

/// An address as the hub compares it: IPv4-mapped IPv6 becomes IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Single hosts print without their /32 or /128.
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn single_addresses_and_blocks() {
        let one = IpRange::parse("127.0.0.2").unwrap();
        assert!(one.contains(ip("127.0.0.2")));
        assert!(!one.contains(ip("127.0.0.1")));
        assert_eq!(one.to_string(), "127.0.0.2");

        let block = IpRange::parse("10.1.2.77/24").unwrap();
        assert_eq!(block.to_string(), "10.1.2.0/24");
        assert!(block.contains(ip("10.1.2.200")));
        assert!(!block.contains(ip("10.1.3.1")));
    }

    #[test]
    fn ipv6_and_mapped_ipv4() {
        let v6 = IpRange::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8::1")));
        assert!(IpRange::parse("::1").unwrap().contains(ip("::1")));
        // A client seen on a dual-stack socket as ::ffff:127.0.0.1 matches 127.0.0.1.
        assert!(IpRange::parse("127.0.0.1").unwrap().contains(ip("::ffff:127.0.0.1")));
        assert_eq!(IpRange::parse("::ffff:10.0.0.1").unwrap().to_string(), "10.0.0.1");
    }

    #[test]
    fn refuses_garbage() {
        assert!(IpRange::parse("localhost").is_err());
        assert!(IpRange::parse("10.0.0.0/33").is_err());
    }
}
