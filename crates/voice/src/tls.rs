//! The voice WebSocket's certificate: from PEM files, or a self-signed pair
//! made once into a directory and kept there, so that a client told to trust
//! it goes on trusting it across restarts.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

use crate::{TlsSource, VoiceError};

/// File names of the generated pair inside its directory.
pub const SELF_SIGNED_CERT: &str = "voice-cert.pem";
pub const SELF_SIGNED_KEY: &str = "voice-key.pem";

pub(crate) fn acceptor(source: &TlsSource, host: &str) -> Result<TlsAcceptor, VoiceError> {
    let (cert, key) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned { dir } => {
            let cert = dir.join(SELF_SIGNED_CERT);
            let key = dir.join(SELF_SIGNED_KEY);
            if !cert.exists() || !key.exists() {
                generate(dir, host)?;
            }
            (cert, key)
        }
    };
    let chain = CertificateDer::pem_file_iter(&cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| VoiceError::Tls(format!("{}: {e}", cert.display())))?;
    let Some(leaf) = chain.first() else {
        return Err(VoiceError::Tls(format!(
            "{}: no certificate",
            cert.display()
        )));
    };
    tracing::info!(
        certificate = %cert.display(),
        sha256 = %fingerprint(leaf),
        "voice TLS certificate"
    );
    let key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| VoiceError::Tls(format!("{}: {e}", key.display())))?;
    // ring, as the rest of the workspace's rustls: no C crypto build. Its
    // provider lacks the post-quantum key exchange, which signalling that
    // carries a per-connection media key for minutes can do without.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| VoiceError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| VoiceError::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A self-signed certificate for `host` (and the loopback names), written
/// with its key into `dir`.
fn generate(dir: &Path, host: &str) -> Result<(), VoiceError> {
    let mut names = vec![host.to_string(), "localhost".into(), "127.0.0.1".into()];
    names.dedup();
    let pair = rcgen::generate_simple_self_signed(names)
        .map_err(|e| VoiceError::Tls(format!("generate a certificate: {e}")))?;
    std::fs::create_dir_all(dir).map_err(VoiceError::io(format!("create {}", dir.display())))?;
    let key_path = dir.join(SELF_SIGNED_KEY);
    write_private(&key_path, pair.signing_key.serialize_pem().as_bytes())?;
    let cert_path = dir.join(SELF_SIGNED_CERT);
    std::fs::write(&cert_path, pair.cert.pem())
        .map_err(VoiceError::io(format!("write {}", cert_path.display())))?;
    tracing::info!(certificate = %cert_path.display(), "generated a self-signed voice certificate");
    Ok(())
}

/// Writes a private key readable by its owner alone.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), VoiceError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(VoiceError::io(format!("write {}", path.display())))
}

/// The certificate's SHA-256, as colon-separated hex.
pub(crate) fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
