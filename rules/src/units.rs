//! Sizes and durations as people write them in manifests and policies:
//! `"32 MiB"`, `"10s"`, `"500ms"`.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A number of bytes, written `"32 MiB"`, `"512 KiB"`, `"1 GiB"`, `"100 B"`
/// or as a plain integer of bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// `n` mebibytes.
    pub const fn mib(n: u64) -> ByteSize {
        ByteSize(n * 1024 * 1024)
    }

    /// `n` kibibytes.
    pub const fn kib(n: u64) -> ByteSize {
        ByteSize(n * 1024)
    }

    /// The size in bytes, saturated to `usize`.
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

const UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
];

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let number: u64 = number.parse().map_err(|_| {
            format!("`{s}` is not a size: write a whole number and a unit, like \"32 MiB\"")
        })?;
        let unit = unit.trim();
        let multiplier = if unit.is_empty() {
            1
        } else {
            UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|(_, m)| *m)
                .ok_or_else(|| {
                    format!("`{unit}` is not a size unit: use B, KiB, MiB, GiB, KB, MB or GB")
                })?
        };
        number
            .checked_mul(multiplier)
            .map(ByteSize)
            .ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, m) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= m && self.0.is_multiple_of(m) {
                return write!(f, "{} {name}", self.0 / m);
            }
        }
        write!(f, "{} B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size like \"32 MiB\" or a number of bytes")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A span of time, written `"10s"`, `"500ms"`, `"2m"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(s.trim()).map(Span).map_err(|e| {
            format!("`{s}` is not a duration ({e}): write it like \"10s\" or \"500ms\"")
        })
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        let cases: &[(&str, Option<u64>, &str)] = &[
            ("32 MiB", Some(32 << 20), "32 MiB"),
            ("32MiB", Some(32 << 20), "32 MiB"),
            ("512 KiB", Some(512 << 10), "512 KiB"),
            ("1 GiB", Some(1 << 30), "1 GiB"),
            ("100 B", Some(100), "100 B"),
            ("100", Some(100), "100 B"),
            ("2 MB", Some(2_000_000), "2000000 B"),
            ("1536 KiB", Some(1536 << 10), "1536 KiB"),
            ("32 mib", None, ""),
            ("-1 MiB", None, ""),
            ("1.5 MiB", None, ""),
            ("MiB", None, ""),
            ("", None, ""),
            ("99999999999999 GiB", None, ""),
        ];
        for (input, bytes, shown) in cases {
            let parsed = input.parse::<ByteSize>();
            match bytes {
                Some(b) => {
                    let size = parsed.unwrap_or_else(|e| panic!("{input}: {e}"));
                    assert_eq!(size.0, *b, "{input}");
                    assert_eq!(size.to_string(), *shown, "{input}");
                }
                None => assert!(parsed.is_err(), "{input} should not parse"),
            }
        }
    }

    #[test]
    fn spans_parse() {
        assert_eq!("10s".parse::<Span>().unwrap().0, Duration::from_secs(10));
        assert_eq!(
            "500ms".parse::<Span>().unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!("2m".parse::<Span>().unwrap().0, Duration::from_secs(120));
        assert!("ten seconds".parse::<Span>().is_err());
        assert!("10".parse::<Span>().is_err());
    }
}
