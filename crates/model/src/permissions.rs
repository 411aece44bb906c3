//! Permission bits (`1 << bit`), written as decimal strings on the wire.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(pub u64);

macro_rules! bits {
    ($($name:ident = $bit:expr;)*) => {
        impl Permissions {
            $(pub const $name: Permissions = Permissions(1 << $bit);)*
        }
    };
}

bits! {
    CREATE_INSTANT_INVITE = 0; KICK_MEMBERS = 1; BAN_MEMBERS = 2; ADMINISTRATOR = 3;
    MANAGE_CHANNELS = 4; MANAGE_GUILD = 5; ADD_REACTIONS = 6; VIEW_AUDIT_LOG = 7;
    PRIORITY_SPEAKER = 8; STREAM = 9; VIEW_CHANNEL = 10; SEND_MESSAGES = 11;
    SEND_TTS_MESSAGES = 12; MANAGE_MESSAGES = 13; EMBED_LINKS = 14; ATTACH_FILES = 15;
    READ_MESSAGE_HISTORY = 16; MENTION_EVERYONE = 17; USE_EXTERNAL_EMOJIS = 18;
    VIEW_GUILD_INSIGHTS = 19; CONNECT = 20; SPEAK = 21; MUTE_MEMBERS = 22; DEAFEN_MEMBERS = 23;
    MOVE_MEMBERS = 24; USE_VAD = 25; CHANGE_NICKNAME = 26; MANAGE_NICKNAMES = 27;
    MANAGE_ROLES = 28; MANAGE_WEBHOOKS = 29; MANAGE_GUILD_EXPRESSIONS = 30;
    USE_APPLICATION_COMMANDS = 31; REQUEST_TO_SPEAK = 32; MANAGE_EVENTS = 33;
    MANAGE_THREADS = 34; CREATE_PUBLIC_THREADS = 35; CREATE_PRIVATE_THREADS = 36;
    USE_EXTERNAL_STICKERS = 37; SEND_MESSAGES_IN_THREADS = 38; USE_EMBEDDED_ACTIVITIES = 39;
    MODERATE_MEMBERS = 40; VIEW_CREATOR_MONETIZATION_ANALYTICS = 41; USE_SOUNDBOARD = 42;
    CREATE_GUILD_EXPRESSIONS = 43; CREATE_EVENTS = 44; USE_EXTERNAL_SOUNDS = 45;
    SEND_VOICE_MESSAGES = 46; SET_VOICE_CHANNEL_STATUS = 48; SEND_POLLS = 49;
    USE_EXTERNAL_APPS = 50; PIN_MESSAGES = 51; BYPASS_SLOWMODE = 52;
}

impl Permissions {
    pub const NONE: Permissions = Permissions(0);
    /// Every bit Discord defines.
    pub const ALL: Permissions = Permissions(8_866_461_766_385_663);
    /// What every participant may do in a DM or group DM: talk, react, pin.
    pub const PRIVATE_CHANNEL: Permissions = Permissions(
        1 << 6
            | 1 << 10
            | 1 << 11
            | 1 << 12
            | 1 << 14
            | 1 << 15
            | 1 << 16
            | 1 << 18
            | 1 << 37
            | 1 << 46
            | 1 << 49
            | 1 << 51,
    );
    /// What `@everyone` may do in a new guild.
    pub const DEFAULT_EVERYONE: Permissions = Permissions(1_799_868_426_735_169);

    pub fn contains(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn remove(self, other: Permissions) -> Permissions {
        Permissions(self.0 & !other.0)
    }
}

impl BitOr for Permissions {
    type Output = Permissions;
    fn bitor(self, rhs: Permissions) -> Permissions {
        Permissions(self.0 | rhs.0)
    }
}

impl BitOrAssign for Permissions {
    fn bitor_assign(&mut self, rhs: Permissions) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Permissions {
    type Output = Permissions;
    fn bitand(self, rhs: Permissions) -> Permissions {
        Permissions(self.0 & rhs.0)
    }
}

impl Not for Permissions {
    type Output = Permissions;
    fn not(self) -> Permissions {
        Permissions(!self.0)
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permissions({:#x})", self.0)
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(crate::snowflake::decimal(self.0, &mut [0; 20]))
    }
}

impl schemars::JsonSchema for Permissions {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Permissions".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::snowflake::decimal_schema(generator)
    }
}

impl<'de> Deserialize<'de> for Permissions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Permissions;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a permission set as a decimal string or an integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Permissions, E> {
                Ok(Permissions(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Permissions, E> {
                u64::try_from(v)
                    .map(Permissions)
                    .map_err(|_| E::custom("permissions must not be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Permissions, E> {
                v.parse()
                    .map(Permissions)
                    .map_err(|_| E::custom("permissions must be a decimal integer"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_every_defined_bit() {
        let defined = (0..=52u32)
            .filter(|b| *b != 47)
            .fold(0u64, |acc, b| acc | 1 << b);
        assert_eq!(Permissions::ALL.0, defined);
    }

    #[test]
    fn string_on_the_wire() {
        assert_eq!(
            serde_json::to_string(&Permissions::SEND_MESSAGES).unwrap(),
            "\"2048\""
        );
        let p: Permissions = serde_json::from_str("\"1024\"").unwrap();
        assert_eq!(p, Permissions::VIEW_CHANNEL);
    }
}
