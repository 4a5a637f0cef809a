//! Address management as Docker's default IPAM does it: the network address
//! is never handed out, the first host is the gateway, IPv4's broadcast
//! address is skipped, and running out is an error.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use plumb_kernel::{Error, Result};

#[derive(Debug, Clone)]
pub struct Pool {
    subnet: IpNet,
    /// The highest host number that may be handed out.
    last: u128,
    /// Where the search for the next free number starts.
    cursor: u128,
    used: BTreeSet<u128>,
}

impl Pool {
    pub fn new(subnet: &str) -> Result<Pool> {
        let net: IpNet = subnet.parse().map_err(|_| {
            Error::invalid("subnet", subnet, "expected a prefix like 172.18.0.0/16")
        })?;
        let net = net.trunc();
        let bits = u32::from(net.max_prefix_len() - net.prefix_len());
        let size = if bits >= 128 {
            u128::MAX
        } else {
            1u128 << bits
        };
        let last = match net {
            IpNet::V4(_) => size.saturating_sub(2), // broadcast
            IpNet::V6(_) => size - 1,
        };
        if last < 2 {
            return Err(Error::invalid(
                "subnet",
                subnet,
                "too small: it needs a gateway and at least one more address",
            ));
        }
        Ok(Pool {
            subnet: net,
            last,
            cursor: 2,
            used: BTreeSet::from([1]),
        })
    }

    pub fn subnet(&self) -> String {
        self.subnet.to_string()
    }

    /// Host number `n` with the subnet's prefix: 172.18.0.10/16.
    pub fn cidr(&self, n: u128) -> String {
        let ip = match self.subnet.network() {
            IpAddr::V4(a) => IpAddr::from((u32::from(a) + n as u32).to_be_bytes()),
            IpAddr::V6(a) => IpAddr::from((u128::from(a) + n).to_be_bytes()),
        };
        format!("{ip}/{}", self.subnet.prefix_len())
    }

    pub fn gateway(&self) -> String {
        self.cidr(1)
    }

    /// The lowest free address from the cursor on.
    pub fn next(&mut self) -> Result<String> {
        let mut n = self.cursor;
        while n <= self.last && self.used.contains(&n) {
            n += 1;
        }
        if n > self.last {
            return Err(Error::invalid(
                "pool",
                self.subnet(),
                format!("no free address left ({} in use)", self.used.len()),
            ));
        }
        self.used.insert(n);
        self.cursor = n + 1;
        Ok(self.cidr(n))
    }

    /// Reserve host number `n`, so next() skips it.
    pub fn take(&mut self, n: u128) -> Result<String> {
        if n < 2 || n > self.last {
            return Err(Error::invalid(
                "pool",
                self.subnet(),
                format!(
                    "it has no host number {n} to take (1 is the gateway; 2..={} can be taken)",
                    self.last
                ),
            ));
        }
        if !self.used.insert(n) {
            return Err(Error::invalid(
                "pool",
                self.subnet(),
                format!("{} is already in use", self.cidr(n)),
            ));
        }
        Ok(self.cidr(n))
    }

    /// Reserve an address given as text (with or without its prefix).
    pub fn claim(&mut self, addr: &str) -> Result<String> {
        let ip: IpAddr = addr
            .split('/')
            .next()
            .unwrap_or_default()
            .parse()
            .map_err(|_| {
                Error::invalid("address", addr, "expected an IP address like 172.18.0.10")
            })?;
        if !self.subnet.contains(&ip) {
            return Err(Error::invalid(
                "address",
                addr,
                format!("it is not in {}", self.subnet()),
            ));
        }
        let n = match (ip, self.subnet.network()) {
            (IpAddr::V4(a), IpAddr::V4(net)) => u128::from(u32::from(a) - u32::from(net)),
            (IpAddr::V6(a), IpAddr::V6(net)) => u128::from(a) - u128::from(net),
            _ => unreachable!("contains() checked the family"),
        };
        self.take(n)
    }

    pub fn in_use(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_hosts_after_the_gateway_and_skips_broadcast() {
        let mut p = Pool::new("10.0.0.0/29").unwrap();
        assert_eq!(p.gateway(), "10.0.0.1/29");
        assert_eq!(p.next().unwrap(), "10.0.0.2/29");
        assert_eq!(p.take(4).unwrap(), "10.0.0.4/29");
        assert_eq!(p.next().unwrap(), "10.0.0.3/29");
        assert_eq!(p.next().unwrap(), "10.0.0.5/29");
        assert_eq!(p.next().unwrap(), "10.0.0.6/29");
        // .7 is the broadcast address.
        let err = p.next().unwrap_err().to_string();
        assert!(err.contains("no free address left"), "{err}");
        assert!(p.take(7).is_err());
        assert!(p
            .take(4)
            .unwrap_err()
            .to_string()
            .contains("already in use"));
        assert!(p
            .claim("10.0.0.3")
            .unwrap_err()
            .to_string()
            .contains("already in use"));
        assert!(p
            .claim("10.9.0.3")
            .unwrap_err()
            .to_string()
            .contains("not in"));
        let mut q = Pool::new("172.18.0.0/16").unwrap();
        assert_eq!(q.claim("172.18.1.10/16").unwrap(), "172.18.1.10/16");
    }

    #[test]
    fn ipv6_has_no_broadcast_and_tiny_subnets_are_refused() {
        let mut p = Pool::new("fd00::/126").unwrap();
        assert_eq!(p.next().unwrap(), "fd00::2/126");
        assert_eq!(p.next().unwrap(), "fd00::3/126");
        assert!(p.next().is_err());
        assert!(Pool::new("10.0.0.0/30").is_ok());
        assert!(Pool::new("10.0.0.0/31").is_err());
        assert!(Pool::new("not a subnet").is_err());
        assert_eq!(Pool::new("10.1.2.3/16").unwrap().subnet(), "10.1.0.0/16");
    }
}
