//! IP addresses, prefixes and families with Go `netip` parsing rules and canonical printing.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};

/// An IP family: `IPv4` or `IPv6`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IPFamily {
    /// IPv4.
    IPv4,
    /// IPv6 (including IPv4-mapped IPv6 addresses, as Go classifies them).
    IPv6,
    /// Any other string; kept so that validation, not decoding, rejects it.
    #[serde(untagged)]
    Other(String),
}

impl Default for IPFamily {
    /// The unset family (`""`), which validation reports as required.
    fn default() -> Self {
        IPFamily::Other(String::new())
    }
}

impl IPFamily {
    /// The wire name of the family.
    pub fn as_str(&self) -> &str {
        match self {
            IPFamily::IPv4 => "IPv4",
            IPFamily::IPv6 => "IPv6",
            IPFamily::Other(s) => s,
        }
    }

    /// Whether this is `IPv4` or `IPv6`.
    pub fn is_known(&self) -> bool {
        !matches!(self, IPFamily::Other(_))
    }

    /// The supported values, for NotSupported errors.
    pub const SUPPORTED: &'static [&'static str] = &["IPv4", "IPv6"];
}

impl JsonSchema for IPFamily {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "IPFamily".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "enum": IPFamily::SUPPORTED,
        })
    }
}

impl fmt::Display for IPFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not an address or prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ParseAddr({input:?}): {reason}")]
pub struct ParseError {
    input: String,
    reason: &'static str,
}

fn parse_err(input: &str, reason: &'static str) -> ParseError {
    ParseError {
        input: input.to_owned(),
        reason,
    }
}

/// An IP address as Go's `netip.Addr`: IPv4 or IPv6 with an optional zone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IP {
    addr: IpAddr,
    zone: Option<String>,
}

impl IP {
    /// The address without zone.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The IPv6 zone, if any.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    /// The family: IPv4 only for 4-byte addresses (mapped addresses are IPv6, as in Go).
    pub fn family(&self) -> IPFamily {
        match self.addr {
            IpAddr::V4(_) => IPFamily::IPv4,
            IpAddr::V6(_) => IPFamily::IPv6,
        }
    }

    /// Whether this is a 4-byte IPv4 address.
    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }
}

impl From<IpAddr> for IP {
    fn from(addr: IpAddr) -> Self {
        IP { addr, zone: None }
    }
}

impl From<Ipv4Addr> for IP {
    fn from(addr: Ipv4Addr) -> Self {
        IP::from(IpAddr::V4(addr))
    }
}

impl From<Ipv6Addr> for IP {
    fn from(addr: Ipv6Addr) -> Self {
        IP::from(IpAddr::V6(addr))
    }
}

impl FromStr for IP {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() {
            return Err(parse_err(s, "unable to parse IP"));
        }
        if s.contains(':') {
            let (addr_part, zone) = match s.split_once('%') {
                Some((_, "")) => return Err(parse_err(s, "zone must be a non-empty string")),
                Some((a, z)) => (a, Some(z.to_owned())),
                None => (s, None),
            };
            let addr =
                Ipv6Addr::from_str(addr_part).map_err(|_| parse_err(s, "unable to parse IP"))?;
            Ok(IP {
                addr: IpAddr::V6(addr),
                zone,
            })
        } else {
            if s.contains('%') {
                return Err(parse_err(s, "IPv4 addresses cannot have a zone"));
            }
            // std rejects leading zeros in octets, as netip does.
            let addr = Ipv4Addr::from_str(s).map_err(|_| parse_err(s, "unable to parse IP"))?;
            Ok(IP::from(addr))
        }
    }
}

impl fmt::Display for IP {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // std prints IPv6 per RFC 5952 and mapped addresses as ::ffff:a.b.c.d, like netip.
        write!(f, "{}", self.addr)?;
        if let Some(z) = &self.zone {
            write!(f, "%{z}")?;
        }
        Ok(())
    }
}

impl Serialize for IP {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for IP {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "IP".into()
    }

    /// A string in OpenAPI format `ip`, as upstream's `commonv1alpha1.IP`.
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "ip",
        })
    }
}

impl<'de> Deserialize<'de> for IP {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// An IP prefix as Go's `netip.Prefix`: an address and a length, **not** masked
/// (`10.0.0.5/24` stays as written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IPPrefix {
    addr: IpAddr,
    bits: u8,
}

impl IPPrefix {
    /// A prefix from address and length; `None` when the length exceeds the family's width.
    pub fn new(addr: IpAddr, bits: u8) -> Option<Self> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (bits <= max).then_some(IPPrefix { addr, bits })
    }

    /// The address as written (not masked).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The family of the address.
    pub fn family(&self) -> IPFamily {
        IP::from(self.addr).family()
    }

    /// Whether the prefix is exactly one address (/32 or /128).
    pub fn is_single_ip(&self) -> bool {
        self.bits == if self.addr.is_ipv4() { 32 } else { 128 }
    }

    /// The prefix with host bits cleared.
    pub fn masked(&self) -> IPPrefix {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let m = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
            }
            IpAddr::V6(a) => {
                let m = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
            }
        };
        IPPrefix {
            addr,
            bits: self.bits,
        }
    }

    /// Whether `ip` lies inside this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        IPPrefix {
            addr: ip,
            bits: self.bits,
        }
        .masked()
        .addr
            == self.masked().addr
    }
}

impl FromStr for IPPrefix {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (addr_s, bits_s) = s.rsplit_once('/').ok_or_else(|| parse_err(s, "no '/'"))?;
        if addr_s.contains('%') {
            return Err(parse_err(s, "IPv6 zones cannot be present in a prefix"));
        }
        let addr = addr_s.parse::<IP>()?.addr;
        let valid_digits = !bits_s.is_empty()
            && bits_s.len() <= 3
            && bits_s.bytes().all(|b| b.is_ascii_digit())
            && !(bits_s.len() > 1 && bits_s.starts_with('0'));
        if !valid_digits {
            return Err(parse_err(s, "bad bits after slash"));
        }
        let bits: u8 = bits_s
            .parse()
            .map_err(|_| parse_err(s, "bad bits after slash"))?;
        IPPrefix::new(addr, bits).ok_or_else(|| parse_err(s, "prefix length out of range"))
    }
}

impl fmt::Display for IPPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.bits)
    }
}

impl Serialize for IPPrefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for IPPrefix {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "IPPrefix".into()
    }

    /// A string in OpenAPI format `ip-prefix`, as upstream's `commonv1alpha1.IPPrefix`.
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "ip-prefix",
        })
    }
}

impl<'de> Deserialize<'de> for IPPrefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Result<IP, ParseError> {
        s.parse()
    }

    #[test]
    fn ipv4_with_leading_zero_octet_is_rejected() {
        assert!(ip("010.0.0.1").is_err());
        assert!(ip("10.0.0.1").is_ok());
    }

    #[test]
    fn ipv6_zone_is_accepted_and_kept() {
        let a = ip("fe80::1%eth0").unwrap();
        assert_eq!(a.zone(), Some("eth0"));
        assert_eq!(a.to_string(), "fe80::1%eth0");
        assert!(ip("fe80::1%").is_err());
        assert!(ip("10.0.0.1%eth0").is_err());
    }

    #[test]
    fn ipv4_mapped_ipv6_is_family_ipv6_and_prints_dotted() {
        let a = ip("::FFFF:1.2.3.4").unwrap();
        assert_eq!(a.family(), IPFamily::IPv6);
        assert_eq!(a.to_string(), "::ffff:1.2.3.4");
    }

    #[test]
    fn ipv6_prints_rfc5952_canonical() {
        assert_eq!(
            ip("2001:DB8:0:0:0:0:0:1").unwrap().to_string(),
            "2001:db8::1"
        );
    }

    #[test]
    fn prefix_is_not_masked() {
        let p: IPPrefix = "10.0.0.5/24".parse().unwrap();
        assert_eq!(p.to_string(), "10.0.0.5/24");
        assert_eq!(p.masked().to_string(), "10.0.0.0/24");
        assert!(p.contains("10.0.0.200".parse().unwrap()));
        assert!(!p.contains("10.0.1.1".parse().unwrap()));
    }

    #[test]
    fn prefix_rejects_bad_lengths_and_zones() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/024",
            "10.0.0.0/",
            "10.0.0.0",
            "fe80::%a/64",
            "::/129",
        ] {
            assert!(bad.parse::<IPPrefix>().is_err(), "{bad}");
        }
        assert!("::/0".parse::<IPPrefix>().unwrap().bits() == 0);
    }

    #[test]
    fn single_ip_prefix_is_full_length() {
        assert!("10.0.0.1/32".parse::<IPPrefix>().unwrap().is_single_ip());
        assert!("::1/128".parse::<IPPrefix>().unwrap().is_single_ip());
        assert!(!"10.0.0.1/31".parse::<IPPrefix>().unwrap().is_single_ip());
    }

    #[test]
    fn family_round_trips_unknown_values_for_validation() {
        let f: IPFamily = serde_json::from_str("\"IPv5\"").unwrap();
        assert_eq!(f, IPFamily::Other("IPv5".into()));
        assert_eq!(serde_json::to_string(&f).unwrap(), "\"IPv5\"");
        assert!(!f.is_known());
    }
}
