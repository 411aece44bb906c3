//! Attachment URLs that cannot be guessed and do not last, signed as
//! Discord's CDN signs them: `?ex=<expiry>&is=<issued>&hm=<mac>&`, the two
//! times in hex Unix seconds and the MAC an HMAC-SHA256 over the file's
//! path and both times, in hex. Knowing an attachment's id (the message id
//! plus one) is therefore not enough to fetch it: only someone who was
//! shown the message, and so could read it, holds a valid URL. Every
//! rendering of a message signs afresh, so reading a message again always
//! gives a working URL; a leaked one stops working after the lifetime.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What the key for URLs is derived with from the server's secret, so that
/// a URL's MAC can never stand in for a token's or the other way round.
const KEY_PURPOSE: &[u8] = b"concord attachment URL signing key";

/// The signature parameters of a request for a file, as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct UrlSignature<'a> {
    /// `ex`: when the URL expires, hex Unix seconds.
    pub expires: Option<&'a str>,
    /// `is`: when it was issued, hex Unix seconds.
    pub issued: Option<&'a str>,
    /// `hm`: the MAC, hex.
    pub mac: Option<&'a str>,
}

pub struct UrlSigner {
    key: Vec<u8>,
    lifetime_s: u64,
}

impl UrlSigner {
    /// `secret` is the server's signing secret; URLs last `lifetime_s`.
    pub fn new(secret: &[u8], lifetime_s: u64) -> Self {
        let mut derive = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        derive.update(KEY_PURPOSE);
        UrlSigner {
            key: derive.finalize().into_bytes().to_vec(),
            lifetime_s,
        }
    }

    fn mac(&self, path: &str, expires: u64, issued: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(path.as_bytes());
        mac.update(&expires.to_be_bytes());
        mac.update(&issued.to_be_bytes());
        mac
    }

    /// `path` with the query that lets it be fetched until `now_s` plus
    /// the lifetime.
    pub fn sign(&self, path: &str, now_s: u64) -> String {
        let expires = now_s.saturating_add(self.lifetime_s);
        let mac = self.mac(path, expires, now_s).finalize().into_bytes();
        format!("{path}?ex={expires:08x}&is={now_s:08x}&hm={}&", hex(&mac))
    }

    /// The seconds `path` may still be served for, if `signature` is one
    /// this server made for it and it has not expired (the whole second
    /// of its expiry included).
    pub fn check(&self, path: &str, signature: UrlSignature<'_>, now_s: u64) -> Option<u64> {
        let number = |v: Option<&str>| u64::from_str_radix(v?, 16).ok();
        let expires = number(signature.expires)?;
        let issued = number(signature.issued)?;
        let mac = unhex(signature.mac?)?;
        if expires < now_s {
            return None;
        }
        self.mac(path, expires, issued)
            .verify_slice(&mac)
            .is_ok()
            .then(|| expires - now_s)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (String, String, String, String) {
        let (path, query) = url.split_once('?').unwrap();
        let mut values = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap().1.to_owned());
        let (ex, is, hm) = (
            values.next().unwrap(),
            values.next().unwrap(),
            values.next().unwrap(),
        );
        (path.to_owned(), ex, is, hm)
    }

    fn signature<'a>(ex: &'a str, is: &'a str, hm: &'a str) -> UrlSignature<'a> {
        UrlSignature {
            expires: Some(ex),
            issued: Some(is),
            mac: Some(hm),
        }
    }

    #[test]
    fn signed_urls_verify_until_they_expire() {
        let signer = UrlSigner::new(b"secret", 60);
        let url = signer.sign("/attachments/1/2/a.png", 1_000);
        assert!(url.ends_with('&'), "{url}");
        let (path, ex, is, hm) = parts(&url);
        assert_eq!((ex.as_str(), is.as_str()), ("00000424", "000003e8"));
        assert_eq!(hm.len(), 64);
        let sig = signature(&ex, &is, &hm);
        assert_eq!(signer.check(&path, sig, 1_000), Some(60));
        assert_eq!(signer.check(&path, sig, 1_060), Some(0));
        assert_eq!(signer.check(&path, sig, 1_061), None, "expired");
        assert_eq!(signer.check("/attachments/1/3/a.png", sig, 1_000), None);
        let later = format!("{:08x}", 1_000_000);
        assert_eq!(
            signer.check(&path, signature(&later, &is, &hm), 1_000),
            None
        );
        let other = UrlSigner::new(b"other", 60);
        assert_eq!(other.check(&path, sig, 1_000), None, "another server's key");
        for bad in ["", "zz", "abc", "é"] {
            assert_eq!(signer.check(&path, signature(&ex, &is, bad), 1_000), None);
        }
        assert_eq!(signer.check(&path, UrlSignature::default(), 1_000), None);
    }
}
