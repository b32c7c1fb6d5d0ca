//! Allocation arithmetic without I/O: VNI ranges, public address pools over prefixes (offsets
//! as `u128`, so even `/0` fits), and the wrap-around walk from a random start.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ironcore_api::apinet::networkid::MAX_VNI;
use ironcore_api::common::{IP, IPFamily, IPPrefix};

/// Why allocator flags are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `--min-vni` is larger than `--max-vni`.
    #[error("--min-vni ({min}) must not be larger than --max-vni ({max})")]
    MinAboveMax {
        /// The minimum.
        min: u32,
        /// The maximum.
        max: u32,
    },
    /// `--max-vni` does not fit in 24 bits.
    #[error("--max-vni ({0}) must be at most {MAX_VNI} (VNIs are 24-bit)")]
    MaxTooLarge(u32),
}

/// A uniformly random `u128` (from the OS generator, through UUIDv4's random bits).
pub fn random_u128() -> u128 {
    // A v4 UUID has 6 fixed bits; XOR with a second one rotated by 32 bits covers them.
    let a = uuid::Uuid::new_v4().as_u128();
    let b = uuid::Uuid::new_v4().as_u128();
    a ^ b.rotate_left(32)
}

/// Every offset of `0..=last` exactly once: `start`, `start + 1`, ..., `last`, `0`, ...,
/// `start - 1`.
#[derive(Clone, Debug)]
pub struct Walk {
    last: u128,
    next: u128,
    /// Offsets still to yield, minus one; `None` when done.
    left: Option<u128>,
}

impl Walk {
    /// A walk over `0..=last` from `start` (taken modulo the range size).
    pub fn new(last: u128, start: u128) -> Self {
        let next = match last.checked_add(1) {
            Some(size) => start % size,
            None => start,
        };
        Walk {
            last,
            next,
            left: Some(last),
        }
    }
}

impl Iterator for Walk {
    type Item = u128;

    fn next(&mut self) -> Option<u128> {
        let left = self.left?;
        let v = self.next;
        self.next = if v == self.last { 0 } else { v + 1 };
        self.left = left.checked_sub(1);
        Some(v)
    }
}

/// Default smallest VNI (`--min-vni`).
pub const DEFAULT_MIN_VNI: u32 = 200;
/// Default largest VNI (`--max-vni`): 2^24 - 1, the largest 24-bit VNI.
pub const DEFAULT_MAX_VNI: u32 = MAX_VNI;

/// The VNIs a server hands out: `min..=max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VniRange {
    min: u32,
    max: u32,
}

impl Default for VniRange {
    /// [`DEFAULT_MIN_VNI`]..=[`DEFAULT_MAX_VNI`].
    fn default() -> Self {
        VniRange {
            min: DEFAULT_MIN_VNI,
            max: DEFAULT_MAX_VNI,
        }
    }
}

impl VniRange {
    /// The range `min..=max`; `max` must fit in 24 bits and not be below `min`.
    pub fn new(min: u32, max: u32) -> Result<Self, RangeError> {
        if max > MAX_VNI {
            return Err(RangeError::MaxTooLarge(max));
        }
        if min > max {
            return Err(RangeError::MinAboveMax { min, max });
        }
        Ok(VniRange { min, max })
    }

    /// The smallest VNI.
    pub fn min(&self) -> u32 {
        self.min
    }

    /// The largest VNI.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Whether `vni` lies in the range.
    pub fn contains(&self, vni: u32) -> bool {
        (self.min..=self.max).contains(&vni)
    }

    /// Every VNI once, starting at `min + random % size` and wrapping around.
    pub fn walk(&self, random: u128) -> impl Iterator<Item = u32> + use<> {
        let min = self.min;
        Walk::new(u128::from(self.max - self.min), random)
            .filter_map(move |off| u32::try_from(off).ok().map(|o| min + o))
    }
}

/// One public prefix: every address of the masked prefix, the network address and the last
/// address included (as upstream: a /29 yields 8 addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    prefix: IPPrefix,
    first: u128,
    last_offset: u128,
}

impl Pool {
    /// The pool of `prefix` (host bits are cleared).
    pub fn new(prefix: &IPPrefix) -> Self {
        let prefix = prefix.masked();
        let width: u32 = if prefix.addr().is_ipv4() { 32 } else { 128 };
        let host_bits = width - u32::from(prefix.bits());
        let last_offset = match 1u128.checked_shl(host_bits) {
            Some(size) => size - 1,
            None => u128::MAX,
        };
        let first = match prefix.addr() {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        Pool {
            prefix,
            first,
            last_offset,
        }
    }

    /// The masked prefix.
    pub fn prefix(&self) -> &IPPrefix {
        &self.prefix
    }

    /// The family of the pool's addresses.
    pub fn family(&self) -> IPFamily {
        self.prefix.family()
    }

    /// The number of addresses minus one (`u128::MAX` for an IPv6 `/0`).
    pub fn last_offset(&self) -> u128 {
        self.last_offset
    }

    /// The number of addresses, `None` when it is 2^128 (an IPv6 `/0`).
    pub fn size(&self) -> Option<u128> {
        self.last_offset.checked_add(1)
    }

    /// Whether `ip` (without zone) lies in the pool.
    pub fn contains(&self, ip: &IP) -> bool {
        ip.zone().is_none() && self.prefix.contains(ip.addr())
    }

    /// The address at `offset` (`offset <= last_offset`).
    pub fn addr(&self, offset: u128) -> IP {
        let v = self.first.wrapping_add(offset);
        match self.prefix.addr() {
            IpAddr::V4(_) => IP::from(Ipv4Addr::from(v as u32)),
            IpAddr::V6(_) => IP::from(Ipv6Addr::from(v)),
        }
    }

    /// Every address of the pool once, from a random start, wrapping around.
    pub fn walk(&self, random: u128) -> impl Iterator<Item = IP> + use<> {
        let pool = *self;
        Walk::new(self.last_offset, random).map(move |off| pool.addr(off))
    }
}

/// The public prefixes grouped by family, each family in flag order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pools {
    v4: Vec<Pool>,
    v6: Vec<Pool>,
}

impl Pools {
    /// Pools of `prefixes`, tried per family in the given order.
    pub fn new(prefixes: &[IPPrefix]) -> Self {
        let mut pools = Pools::default();
        for p in prefixes {
            let pool = Pool::new(p);
            match pool.family() {
                IPFamily::IPv4 => pools.v4.push(pool),
                _ => pools.v6.push(pool),
            }
        }
        pools
    }

    /// The pools of `family` (none for an unknown family).
    pub fn for_family(&self, family: &IPFamily) -> &[Pool] {
        match family {
            IPFamily::IPv4 => &self.v4,
            IPFamily::IPv6 => &self.v6,
            IPFamily::Other(_) => &[],
        }
    }

    /// Whether `ip` lies in a pool of `family`.
    pub fn contains(&self, family: &IPFamily, ip: &IP) -> bool {
        self.for_family(family).iter().any(|p| p.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(s: &str) -> IPPrefix {
        s.parse().unwrap()
    }

    #[test]
    fn walk_wraps_around_and_yields_each_offset_once() {
        let got: Vec<u128> = Walk::new(4, 3).collect();
        assert_eq!(got, vec![3, 4, 0, 1, 2]);
        let got: Vec<u128> = Walk::new(4, 0).collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        let got: Vec<u128> = Walk::new(4, 4).collect();
        assert_eq!(got, vec![4, 0, 1, 2, 3]);
    }

    #[test]
    fn walk_start_is_taken_modulo_the_size() {
        let got: Vec<u128> = Walk::new(2, 7).collect();
        assert_eq!(got, vec![1, 2, 0]);
    }

    #[test]
    fn walk_of_one_value() {
        assert_eq!(Walk::new(0, 12345).collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn walk_over_the_whole_u128_range_wraps_at_the_top() {
        let got: Vec<u128> = Walk::new(u128::MAX, u128::MAX - 1).take(4).collect();
        assert_eq!(got, vec![u128::MAX - 1, u128::MAX, 0, 1]);
    }

    #[test]
    fn quirk_prefix_size_u128_covers_slash_0_and_slash_1() {
        // Upstream's size helper returned 0 for /0 and /1 (and then panicked on a random
        // offset); sizes here are exact in u128.
        assert_eq!(Pool::new(&prefix("0.0.0.0/0")).size(), Some(1u128 << 32));
        assert_eq!(Pool::new(&prefix("128.0.0.0/1")).size(), Some(1u128 << 31));
        assert_eq!(Pool::new(&prefix("::/0")).size(), None);
        assert_eq!(Pool::new(&prefix("::/0")).last_offset(), u128::MAX);
        assert_eq!(Pool::new(&prefix("8000::/1")).size(), Some(1u128 << 127));
        assert_eq!(
            Pool::new(&prefix("2001:db8::/64")).size(),
            Some(1u128 << 64)
        );
        assert_eq!(Pool::new(&prefix("192.0.2.7/32")).size(), Some(1));
        assert_eq!(Pool::new(&prefix("2001:db8::1/128")).size(), Some(1));
    }

    #[test]
    fn slash_0_pools_can_allocate_at_any_start() {
        for p in ["0.0.0.0/0", "::/0", "8000::/1", "128.0.0.0/1"] {
            let pool = Pool::new(&prefix(p));
            for r in [0, 1, u128::MAX, random_u128()] {
                let ip = pool.walk(r).next().unwrap();
                assert!(pool.contains(&ip), "{ip} not in {p}");
            }
        }
        let all = Pool::new(&prefix("::/0"));
        let got: Vec<String> = all.walk(u128::MAX).take(2).map(|i| i.to_string()).collect();
        assert_eq!(got, vec!["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::"]);
        let v4 = Pool::new(&prefix("0.0.0.0/0"));
        let got: Vec<String> = v4
            .walk(u128::from(u32::MAX))
            .take(2)
            .map(|i| i.to_string())
            .collect();
        assert_eq!(got, vec!["255.255.255.255", "0.0.0.0"]);
    }

    #[test]
    fn pool_includes_network_and_last_address() {
        let pool = Pool::new(&prefix("192.0.2.8/29"));
        let mut got: Vec<String> = pool.walk(5).map(|i| i.to_string()).collect();
        assert_eq!(got.len(), 8);
        assert_eq!(got[0], "192.0.2.13");
        got.sort();
        assert_eq!(got.first().unwrap(), "192.0.2.10");
        assert!(got.contains(&"192.0.2.8".to_owned()));
        assert!(got.contains(&"192.0.2.15".to_owned()));
    }

    #[test]
    fn pool_masks_host_bits() {
        let pool = Pool::new(&prefix("192.0.2.77/24"));
        assert_eq!(pool.prefix().to_string(), "192.0.2.0/24");
        assert_eq!(pool.addr(0).to_string(), "192.0.2.0");
        assert_eq!(pool.addr(255).to_string(), "192.0.2.255");
    }

    #[test]
    fn ipv6_pool_walk_wraps() {
        let pool = Pool::new(&prefix("2001:db8::/126"));
        let got: Vec<String> = pool.walk(2).map(|i| i.to_string()).collect();
        assert_eq!(
            got,
            vec!["2001:db8::2", "2001:db8::3", "2001:db8::", "2001:db8::1"]
        );
    }

    #[test]
    fn pool_contains_checks_family_and_zone() {
        let pool = Pool::new(&prefix("2001:db8::/120"));
        assert!(pool.contains(&"2001:db8::ff".parse().unwrap()));
        assert!(!pool.contains(&"2001:db8::1ff".parse().unwrap()));
        assert!(!pool.contains(&"2001:db8::1%eth0".parse().unwrap()));
        assert!(!pool.contains(&"192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn pools_select_by_family_in_flag_order() {
        let pools = Pools::new(&[
            prefix("2001:db8::/120"),
            prefix("198.51.100.0/24"),
            prefix("2001:db8:1::/64"),
            prefix("203.0.113.0/24"),
        ]);
        let v4: Vec<String> = pools
            .for_family(&IPFamily::IPv4)
            .iter()
            .map(|p| p.prefix().to_string())
            .collect();
        assert_eq!(v4, vec!["198.51.100.0/24", "203.0.113.0/24"]);
        let v6: Vec<String> = pools
            .for_family(&IPFamily::IPv6)
            .iter()
            .map(|p| p.prefix().to_string())
            .collect();
        assert_eq!(v6, vec!["2001:db8::/120", "2001:db8:1::/64"]);
        assert!(pools.for_family(&IPFamily::Other("x".into())).is_empty());
        assert!(pools.contains(&IPFamily::IPv4, &"203.0.113.9".parse().unwrap()));
        assert!(!pools.contains(&IPFamily::IPv6, &"203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn no_prefixes_no_pools() {
        let pools = Pools::new(&[]);
        assert!(pools.for_family(&IPFamily::IPv4).is_empty());
        assert!(pools.for_family(&IPFamily::IPv6).is_empty());
    }

    #[test]
    fn vni_range_checks_flags() {
        assert!(VniRange::new(200, 16_777_215).is_ok());
        assert!(VniRange::new(5, 5).is_ok());
        assert_eq!(
            VniRange::new(10, 5),
            Err(RangeError::MinAboveMax { min: 10, max: 5 })
        );
        assert_eq!(
            VniRange::new(0, 16_777_216),
            Err(RangeError::MaxTooLarge(16_777_216))
        );
    }

    #[test]
    fn vni_walk_covers_range_once_with_wrap_around() {
        let r = VniRange::new(200, 204).unwrap();
        assert_eq!(r.walk(3).collect::<Vec<_>>(), vec![203, 204, 200, 201, 202]);
        assert_eq!(r.walk(0).collect::<Vec<_>>(), vec![200, 201, 202, 203, 204]);
        let full = VniRange::new(0, MAX_VNI).unwrap();
        assert_eq!(
            full.walk(u128::from(MAX_VNI)).take(2).collect::<Vec<_>>(),
            vec![MAX_VNI, 0]
        );
        assert!(r.contains(200) && r.contains(204) && !r.contains(205) && !r.contains(199));
    }

    #[test]
    fn random_starts_spread() {
        let r = VniRange::new(200, 16_777_215).unwrap();
        let starts: std::collections::HashSet<u32> = (0..64)
            .map(|_| r.walk(random_u128()).next().unwrap())
            .collect();
        assert!(
            starts.len() > 60,
            "random starts collide too often: {}",
            starts.len()
        );
    }
}
