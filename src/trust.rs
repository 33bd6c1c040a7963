//! Which servers tickerfeed's HTTP clients trust: the certificate
//! authorities of the system's store, as reqwest's own default would (the
//! same `rustls-platform-verifier`), read once per process, and only when
//! the first `https` server must be checked. Hands on [`client_builder`],
//! from which every outgoing client is built (feeds, quote providers,
//! alert receivers, WebSub).
//!
//! Why not reqwest's default: it reads the whole store again for every
//! client it builds, before any request (every PEM file of the system's
//! bundle and certificate directory, parsed: about 10 ms of CPU each, a
//! tenth of a re-poll of 200 feeds, three clients in the daemon), and it
//! refuses to build any client when the store is empty or missing, so a
//! machine without CA certificates could not poll even plain `http`
//! feeds. Here an empty store fails only the `https` exchanges, each with
//! a message that says so.

use std::sync::{Arc, LazyLock, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// A `reqwest::ClientBuilder` whose TLS trusts the system's store, shared
/// with every other client of the process. It offers HTTP/2 and HTTP/1.1
/// by ALPN, as reqwest does by default; a client built from it must not be
/// made `http1_only` (the server could pick HTTP/2 during the handshake).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(TLS.clone())
}

/// One TLS set-up for every client; cloning it shares the verifier.
static TLS: LazyLock<ClientConfig> = LazyLock::new(|| {
    // The provider reqwest's `rustls` feature uses by default.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs's default provider speaks TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SystemStore::new(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
});

/// The system's store, read at the first certificate to check.
#[derive(Debug)]
struct SystemStore {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl SystemStore {
    fn new(provider: Arc<CryptoProvider>) -> SystemStore {
        SystemStore {
            provider,
            verifier: OnceLock::new(),
        }
    }

    /// The verifier over the system's store, read on the first call. It
    /// blocks the calling thread (a runtime worker, inside a handshake)
    /// for the reading, once in the process's life: a store found empty
    /// stays so until a restart, as reqwest's own reading did.
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                // The one way it fails with no extra roots is an empty
                // store; the platform verifier has logged which paths it
                // read and why each failed.
                rustls_platform_verifier::Verifier::new(self.provider.clone()).map_err(|_| {
                    rustls::Error::General(
                        "no CA certificates were found on this machine to check the server's \
                         against: install the system's (Debian: the ca-certificates package) \
                         or name a bundle with SSL_CERT_FILE, then restart tickerfeed"
                            .into(),
                    )
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }
}

impl ServerCertVerifier for SystemStore {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    // The handshake's signatures are checked with the provider's
    // algorithms alone, as the platform verifier does: no store needed.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}
