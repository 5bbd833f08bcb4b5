//! TLS to the store's server through rustls, as the URL's `sslmode` asks
//! (libpq's meanings):
//!
//! - `disable` (the default): plain TCP.
//! - `prefer`: TLS when the server offers it, else plain; the certificate
//!   is not checked.
//! - `require`: TLS or no connection; the certificate is not checked.
//! - `verify-ca`: TLS with a certificate signed by a trusted root.
//! - `verify-full`: `verify-ca`, and the certificate names the host.
//!
//! The trusted roots are the file `sslrootcert=` names (PEM), else the
//! Mozilla roots shipped with the binary (`webpki-roots`).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use gt_core::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// What gt takes out of a connection string before the `postgres` crate
/// parses the rest (it knows neither `verify-*` nor `sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsParams {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

/// Splits `sslmode` and `sslrootcert` off `url` (a `postgres://` URL or a
/// `key=value` string): the rest for the `postgres` crate, and them.
/// An unknown `sslmode` is the error (a message without the URL).
pub(crate) fn split_tls_params(url: &str) -> std::result::Result<(String, TlsParams), String> {
    let mut params = TlsParams {
        mode: SslMode::Disable,
        root_cert: None,
    };
    let mut take = |key: &str, value: &str| -> std::result::Result<bool, String> {
        match key {
            "sslmode" => {
                params.mode = match value {
                    "disable" => SslMode::Disable,
                    "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode '{}' is not one of disable, prefer, require, verify-ca, verify-full",
                            other.escape_debug()
                        ))
                    }
                };
                Ok(true)
            }
            "sslrootcert" => {
                params.root_cert = Some(PathBuf::from(percent_decode(value)));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if url.contains("://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let mut kept = Vec::new();
                for kv in query.split('&').filter(|kv| !kv.is_empty()) {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    if !take(k, v)? {
                        kept.push(kv);
                    }
                }
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_string(),
        }
    } else {
        let mut kept = Vec::new();
        for kv in url.split_whitespace() {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if !take(k, v.trim_matches('\''))? {
                kept.push(kv);
            }
        }
        kept.join(" ")
    };
    Ok((rest, params))
}

/// `%XX` escapes decoded (a URL's query values); anything else kept.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The rustls connector for `params` (not used for `disable`).
pub(crate) fn connector(params: &TlsParams) -> Result<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("cannot set up TLS: {e}")))?;
    let mut roots = RootCertStore::empty();
    match &params.root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    Error::Environment(format!(
                        "cannot read the sslrootcert {}: {e}",
                        path.display()
                    ))
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::Environment(format!(
                    "the sslrootcert {} holds no usable certificate",
                    path.display()
                )));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let mut config = builder
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
    let webpki = || {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots.clone()), provider.clone())
            .build()
            .map_err(|e| Error::Internal(format!("cannot set up TLS: {e}")))
    };
    match params.mode {
        SslMode::VerifyFull => {}
        SslMode::VerifyCa => {
            let verifier = AnyName(webpki()?);
            config
                .dangerous()
                .set_certificate_verifier(Arc::new(verifier));
        }
        SslMode::Prefer | SslMode::Require | SslMode::Disable => {
            let verifier = Unchecked(provider);
            config
                .dangerous()
                .set_certificate_verifier(Arc::new(verifier));
        }
    }
    Ok(MakeRustlsConnect::new(config))
}

/// `verify-ca`: the chain must lead to a trusted root; the name is not
/// checked (rustls checks it last, so a name mismatch means the chain
/// passed).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require`: encrypted, the certificate taken as it is
/// (libpq's meaning of these modes); the handshake's signatures are still
/// checked against it.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_params_are_split_off_and_disable_is_the_default() {
        let (rest, p) = split_tls_params("postgres://gt@h:5432/town").unwrap();
        assert_eq!(rest, "postgres://gt@h:5432/town");
        assert_eq!(p.mode, SslMode::Disable);
        let (rest, p) = split_tls_params(
            "postgres://gt@h/town?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://gt@h/town?connect_timeout=3");
        assert_eq!(p.mode, SslMode::VerifyFull);
        assert_eq!(p.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        let (rest, p) = split_tls_params("host=h user=gt sslmode=require").unwrap();
        assert_eq!(rest, "host=h user=gt");
        assert_eq!(p.mode, SslMode::Require);
        let e = split_tls_params("postgres://h/db?sslmode=always").unwrap_err();
        assert!(e.contains("sslmode 'always'"), "{e}");
    }

    #[test]
    fn every_mode_builds_a_connector() {
        for mode in [
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            connector(&TlsParams {
                mode,
                root_cert: None,
            })
            .unwrap();
        }
        let e = connector(&TlsParams {
            mode: SslMode::VerifyFull,
            root_cert: Some("/nonexistent/ca.pem".into()),
        })
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("sslrootcert /nonexistent/ca.pem"),
            "{e}"
        );
    }
}
