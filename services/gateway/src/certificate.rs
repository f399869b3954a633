//! Which certificate setWebhook must upload. Telegram calls a webhook only
//! over TLS it can verify; a certificate no public CA vouches for (the
//! self-signed one `ssl/generate-ssl.sh` makes) must be uploaded with
//! setWebhook, or Telegram never delivers an update. A publicly trusted one
//! (Let's Encrypt) must not be: Telegram then pins the upload instead.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::Path;
use std::sync::Arc;

/// The PEM to upload for `host`, or None when a public CA signed the
/// certificate at `path`. Err: the file is unreadable or holds no certificate.
pub fn to_upload(path: &Path, host: &str) -> Result<Option<Vec<u8>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate: {e:?}", path.display()))?;
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err(format!("{}: holds no certificate", path.display()));
    };
    Ok((!publicly_trusted(leaf, intermediates, host)).then_some(pem))
}

fn publicly_trusted(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    host: &str,
) -> bool {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(verifier) =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()
    else {
        return false;
    };
    let Ok(name) = ServerName::try_from(host.to_string()) else {
        return false;
    };
    verifier
        .verify_server_cert(leaf, intermediates, &name, &[], UnixTime::now())
        .is_ok()
}

/// The host part of a webhook URL (`https://host:8443/path` → `host`).
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority.split(':').next().unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_cut_out_of_the_webhook_url() {
        assert_eq!(
            host_of("https://bot.example.com:8443/webhook"),
            "bot.example.com"
        );
        assert_eq!(host_of("https://203.0.113.7/webhook"), "203.0.113.7");
        assert_eq!(host_of("https://[2001:db8::1]:8443/w"), "2001:db8::1");
    }

    #[test]
    fn a_file_without_a_certificate_is_an_error_naming_it() {
        let path = std::env::temp_dir().join(format!("not-a-cert-{}", std::process::id()));
        std::fs::write(&path, b"hello").unwrap();
        let err = to_upload(&path, "localhost").unwrap_err();
        assert!(err.contains("not-a-cert"), "{err}");
        let _ = std::fs::remove_file(&path);
    }
}
