//! Request bodies, as clients send them. Each component owns the bodies
//! of its routes (`accounts::input`, `guilds::input`, `messages::input`,
//! `threads::input`, `private::input`, `operations::input`); this is what
//! they share. Unknown fields are ignored, as Discord does; types are
//! strict, so a wrong type is a 50035 naming the field.

use serde::{Deserialize, Deserializer};

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
