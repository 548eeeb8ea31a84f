//! Clients for a URL, over TLS (`rediss://`) when the `tls` feature is on.

use pc_core::BuildError;

/// The certificates of a connection over TLS (`rediss://`, feature `tls`): the authority that
/// signed the server's certificate when it is not among the system's roots, and the client's
/// own certificate for a server that asks for one (`tls-auth-clients yes`).
///
/// A `rediss://` URL works without one: the server's certificate is then checked against the
/// system's roots. Certificates are PEM text; they are parsed when the queue or limiter is
/// built, so a malformed one is a [`BuildError`] naming `tls`, not a failed connection later.
///
/// ```no_run
/// use pc_redis::{RedisQueue, Tls};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = Tls::new()
///     .root_certificate(std::fs::read("ca.crt")?)
///     .client_certificate(std::fs::read("client.crt")?, std::fs::read("client.key")?);
/// let queue = RedisQueue::<String>::builder("rediss://redis.internal:6380/", "jobs")
///     .tls(tls)
///     .build()?;
/// # let _ = queue;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
#[derive(Clone, Default)]
pub struct Tls {
    root: Option<Vec<u8>>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

#[cfg(feature = "tls")]
impl Tls {
    /// No certificates of its own: the server is checked against the system's roots.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts only the authority (or authorities) in `pem` for the server's certificate,
    /// instead of the system's roots.
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root = Some(pem.into());
        self
    }

    /// Presents `certificate` (PEM, the chain from the client's certificate up) with its
    /// private `key` (PEM) to a server that checks its clients.
    pub fn client_certificate(
        mut self,
        certificate: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.client = Some((certificate.into(), key.into()));
        self
    }
}

#[cfg(feature = "tls")]
impl Tls {
    /// Refuses PEM text that holds no certificate, which the redis crate would take as an
    /// empty list: an empty root store refuses every server, an empty chain every handshake.
    fn check(&self) -> Result<(), BuildError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;

        let named = [
            ("root_certificate", self.root.as_deref()),
            (
                "client_certificate",
                self.client.as_ref().map(|(chain, _)| chain.as_slice()),
            ),
        ];
        for (name, pem) in named {
            let Some(pem) = pem else { continue };
            let mut certificates = CertificateDer::pem_slice_iter(pem);
            match certificates.next() {
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    return Err(BuildError::Invalid {
                        setting: "tls",
                        reason: format!("{name}: {e}"),
                    });
                }
                None => {
                    return Err(BuildError::Invalid {
                        setting: "tls",
                        reason: format!("{name}: no PEM certificate in it"),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(feature = "tls")]
impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Certificates are long and a key is secret: only say which are set.
        f.debug_struct("Tls")
            .field("root_certificate", &self.root.is_some())
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

/// What the builders keep for a client: the TLS certificates when the feature is on, nothing
/// otherwise.
#[cfg(feature = "tls")]
pub(crate) type TlsSetting = Option<Tls>;
#[cfg(not(feature = "tls"))]
pub(crate) type TlsSetting = ();

/// A client for `url`, with `tls` for a `rediss://` one; every problem is a build error
/// naming `url` or `tls`.
pub(crate) fn client(url: &str, tls: &TlsSetting) -> Result<redis::Client, BuildError> {
    let invalid_url = |reason: &dyn std::fmt::Display| BuildError::Invalid {
        setting: "url",
        reason: format!("{url}: {reason}"),
    };
    let client = redis::Client::open(url).map_err(|e| {
        let scheme = url
            .trim_start()
            .get(..10)
            .unwrap_or("")
            .to_ascii_lowercase();
        let names_tls = scheme.starts_with("rediss://") || scheme.starts_with("valkeys://");
        if names_tls && cfg!(not(feature = "tls")) {
            invalid_url(&"a TLS URL needs pc-redis' `tls` feature (`pc`'s `redis-tls`)")
        } else {
            invalid_url(&e)
        }
    })?;
    let (over_tls, insecure) = match client.get_connection_info().addr() {
        redis::ConnectionAddr::TcpTls { insecure, .. } => (true, *insecure),
        _ => (false, false),
    };
    if insecure {
        return Err(invalid_url(
            &"`#insecure` (no certificate check) is not supported; trust the server's \
              authority with `Tls::root_certificate` instead",
        ));
    }
    #[cfg(feature = "tls")]
    {
        if over_tls {
            install_crypto();
        }
        if let Some(tls) = tls {
            if !over_tls {
                return Err(BuildError::Invalid {
                    setting: "tls",
                    reason: format!("certificates need a `rediss://` URL, not {url}"),
                });
            }
            tls.check()?;
            let certificates = redis::TlsCertificates {
                client_tls: tls.client.clone().map(|(client_cert, client_key)| {
                    redis::ClientTlsConfig {
                        client_cert,
                        client_key,
                    }
                }),
                root_cert: tls.root.clone(),
            };
            return redis::Client::build_with_tls(
                client.get_connection_info().clone(),
                certificates,
            )
            .map_err(|e| BuildError::Invalid {
                setting: "tls",
                reason: e.to_string(),
            });
        }
    }
    #[cfg(not(feature = "tls"))]
    let ((), _) = (*tls, over_tls);
    Ok(client)
}

/// Makes ring's the process's rustls provider unless the program chose one: rustls refuses to
/// pick when a build has more than one, and the connection would fail deep in a task.
///
/// rustls marks ring's provider deprecated for its lack of post-quantum key exchange; it is
/// kept for a build that needs no C toolchain beyond ring's, and a program that wants
/// post-quantum key exchange installs aws-lc-rs's provider first, which is then used.
#[cfg(feature = "tls")]
#[allow(deprecated)]
fn install_crypto() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may install one between the check and here: theirs stands.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build's branch runs here (the tests build with `tls`); the other was checked by
    /// building the tests without the feature.
    #[test]
    fn a_tls_url_needs_the_feature_and_says_so() {
        let built = client("rediss://127.0.0.1:6380/", &TlsSetting::default());
        if cfg!(feature = "tls") {
            assert!(built.is_ok());
        } else {
            let Err(BuildError::Invalid { setting, reason }) = built else {
                panic!("a TLS URL without the feature must be refused");
            };
            assert_eq!(setting, "url");
            assert!(reason.contains("`tls` feature"), "{reason}");
        }
    }

    #[test]
    fn plain_and_unix_urls_make_clients() {
        for url in ["redis://127.0.0.1/", "redis+unix:///tmp/redis.sock"] {
            assert!(client(url, &TlsSetting::default()).is_ok(), "{url}");
        }
        let Err(BuildError::Invalid { setting, .. }) =
            client("http://127.0.0.1/", &TlsSetting::default())
        else {
            panic!("not a Redis URL");
        };
        assert_eq!(setting, "url");
    }
}
