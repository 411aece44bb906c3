//! Snowflake ids: `(ms since 2015-01-01) << 22 | worker << 17 | process << 12 | increment`.
//!
//! Ids sort by creation time, which is what lets messages be clustered by id
//! and bucketed by the time the id carries.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Discord's epoch, the first millisecond of 2015, in unix milliseconds.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// A Discord id. Written as a JSON string; read from a string or a number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Snowflake(pub u64);

impl Snowflake {
    /// The unix time in milliseconds at which this id was made.
    pub fn timestamp_ms(self) -> u64 {
        (self.0 >> 22) + DISCORD_EPOCH_MS
    }

    /// The smallest id that could have been made at `unix_ms`.
    pub fn from_timestamp_ms(unix_ms: u64) -> Self {
        Snowflake(unix_ms.saturating_sub(DISCORD_EPOCH_MS) << 22)
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Snowflake {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Snowflake)
    }
}

impl Serialize for Snowflake {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 20];
        s.serialize_str(decimal(self.0, &mut buf))
    }
}

/// `n` in decimal, written into `buf`: ids are serialized on every message,
/// and the formatting machinery is the slow way to print a number.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("0")
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Snowflake;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a snowflake as a string or an integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Snowflake, E> {
                Ok(Snowflake(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Snowflake, E> {
                u64::try_from(v)
                    .map(Snowflake)
                    .map_err(|_| E::custom("snowflake must not be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Snowflake, E> {
                v.parse()
                    .map_err(|_| E::custom("snowflake must be a decimal integer"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Sent as a decimal string; read from a string or an integer.
impl schemars::JsonSchema for Snowflake {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Snowflake".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        decimal_schema(generator)
    }
}

/// A 64-bit unsigned integer as Discord sends it (a decimal string), or
/// as it accepts it (also a bare integer).
pub fn decimal_schema(generator: &schemars::SchemaGenerator) -> schemars::Schema {
    let string = schemars::json_schema!({ "type": "string", "pattern": "^[0-9]{1,20}$" });
    match generator.contract().is_serialize() {
        true => string,
        false => schemars::json_schema!({
            "anyOf": [string, { "type": "integer", "minimum": 0 }],
        }),
    }
}

/// Makes ids that are unique and increasing within one process.
#[derive(Debug)]
pub struct SnowflakeGenerator {
    node_bits: u64,
    /// (last millisecond since the epoch, increment within it)
    state: Mutex<(u64, u64)>,
}

impl SnowflakeGenerator {
    /// `worker` and `process` are 5-bit ids; larger values are masked.
    pub fn new(worker: u8, process: u8) -> Self {
        let node_bits = (u64::from(worker) & 0x1f) << 17 | (u64::from(process) & 0x1f) << 12;
        SnowflakeGenerator {
            node_bits,
            state: Mutex::new((0, 0)),
        }
    }

    /// The next id. When 4096 ids were made in one millisecond, or the clock
    /// went back, the id borrows the next millisecond so order is kept.
    pub fn next(&self) -> Snowflake {
        let now = now_ms().saturating_sub(DISCORD_EPOCH_MS);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (last, inc) = *state;
        let (ms, inc) = if now > last {
            (now, 0)
        } else if inc < 0xfff {
            (last, inc + 1)
        } else {
            (last + 1, 0)
        };
        *state = (ms, inc);
        Snowflake(ms << 22 | self.node_bits | inc)
    }
}

/// The current unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn layout_matches_discord() {
        // Discord's documented example: 175928847299117063 -> 2016-04-30T11:18:25.796Z
        let id = Snowflake(175_928_847_299_117_063);
        assert_eq!(id.timestamp_ms(), 1_462_015_105_796);
        assert_eq!((id.0 & 0x3E0000) >> 17, 1);
        assert_eq!((id.0 & 0x1F000) >> 12, 0);
        assert_eq!(id.0 & 0xFFF, 7);
    }

    #[test]
    fn node_bits_are_placed() {
        let id = SnowflakeGenerator::new(3, 9).next();
        assert_eq!((id.0 >> 17) & 0x1f, 3);
        assert_eq!((id.0 >> 12) & 0x1f, 9);
        assert!(id.timestamp_ms().abs_diff(now_ms()) < 5_000);
    }

    #[test]
    fn unique_and_increasing_under_concurrency() {
        let generator = Arc::new(SnowflakeGenerator::new(1, 1));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let g = Arc::clone(&generator);
                std::thread::spawn(move || (0..20_000).map(|_| g.next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = HashSet::new();
        for t in threads {
            let ids = t.join().unwrap();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "ids increase per thread"
            );
            all.extend(ids);
        }
        assert_eq!(all.len(), 80_000);
    }

    #[test]
    fn decimal_matches_display() {
        for n in [0, 7, 10, 4096, 175_928_847_299_117_063, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string());
        }
    }

    #[test]
    fn serde_string_out_string_or_number_in() {
        let id = Snowflake(42);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"42\"");
        assert_eq!(serde_json::from_str::<Snowflake>("42").unwrap(), id);
        assert_eq!(serde_json::from_str::<Snowflake>("\"42\"").unwrap(), id);
        assert!(serde_json::from_str::<Snowflake>("\"4x2\"").is_err());
        assert!(serde_json::from_str::<Snowflake>("-1").is_err());
    }
}
