//! `rediss://`: queues and limiters over TLS to a local `redis-server --tls-port`, with
//! certificates each test makes for itself (an authority, the server's, a client's).

mod support;

use std::time::Duration;

use pc_core::BuildError;
use pc_redis::{RedisError, RedisGcra, RedisQueue, Tls};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use support::Server;

/// An authority that signs certificates for the tests.
struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Authority {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("a CA certificate"),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `names` (DNS names or IP addresses) and its key, both PEM.
    fn sign(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let params = CertificateParams::new(names).expect("valid names");
        let key = KeyPair::generate().expect("a key");
        let certificate = params.signed_by(&key, &self.issuer).expect("signed");
        (certificate.pem(), key.serialize_pem())
    }
}

/// A TLS server whose certificate `authority` signed for 127.0.0.1, asking clients for a
/// certificate of `clients` when given.
async fn tls_server(authority: &Authority, clients: Option<&Authority>) -> Option<Server> {
    let (certificate, key) = authority.sign(&["127.0.0.1"]);
    let clients = clients.map(Authority::pem);
    Server::start_tls(&certificate, &key, clients.as_deref()).await
}

fn queue(server: &Server, stream: &str, tls: Tls) -> RedisQueue<u32> {
    RedisQueue::<u32>::builder(server.url.as_str(), stream)
        .block(Duration::from_millis(50))
        .tls(tls)
        .build()
        .expect("valid settings")
}

/// Sends `0..n`, receives and acks all of them, and returns what arrived, in order, after
/// checking through a connection of the test's own (with `certificates`) that nothing stayed
/// pending.
async fn round_trip(
    server: &Server,
    queue: &RedisQueue<u32>,
    n: u32,
    certificates: redis::TlsCertificates,
) -> Vec<u32> {
    let producer = queue.producer().await.expect("connects over TLS");
    for item in 0..n {
        producer.send(item).await.expect("sent");
    }
    let consumer = queue.consumer("tls-1").await.expect("connects over TLS");
    let got = support::take_acked(&consumer, n as usize).await;
    let mut connection = own_connection(server, certificates).await;
    let (pending, ..): (usize, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg("tls")
        .arg("pc")
        .query_async(&mut connection)
        .await
        .expect("XPENDING");
    assert_eq!(pending, 0);
    got
}

/// A connection of the test's own, over TLS with `certificates`.
async fn own_connection(
    server: &Server,
    certificates: redis::TlsCertificates,
) -> redis::aio::MultiplexedConnection {
    redis::Client::build_with_tls(server.url.as_str(), certificates)
        .expect("valid certificates")
        .get_multiplexed_async_connection()
        .await
        .expect("connects over TLS")
}

/// The certificates of the test's own connection: trusting `authority`, presenting `client`.
fn certificates(authority: &Authority, client: Option<(String, String)>) -> redis::TlsCertificates {
    redis::TlsCertificates {
        client_tls: client.map(|(certificate, key)| redis::ClientTlsConfig {
            client_cert: certificate.into_bytes(),
            client_key: key.into_bytes(),
        }),
        root_cert: Some(authority.pem().into_bytes()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_sends_receives_and_acks_over_tls() {
    let authority = Authority::new("pc test authority");
    let Some(server) = tls_server(&authority, None).await else {
        return;
    };
    assert!(server.url.starts_with("rediss://"));
    let queue = queue(&server, "tls", Tls::new().root_certificate(authority.pem()));
    let got = round_trip(&server, &queue, 100, certificates(&authority, None)).await;
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_signed_by_an_unknown_authority_is_refused() {
    let authority = Authority::new("pc test authority");
    let Some(server) = tls_server(&authority, None).await else {
        return;
    };
    let stranger = Authority::new("another authority");
    let queue = queue(&server, "tls", Tls::new().root_certificate(stranger.pem()));
    let error = queue
        .producer()
        .await
        .expect_err("an unknown issuer is refused");
    assert!(matches!(error, RedisError::Connect { .. }), "{error}");
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_for_another_name_is_refused() {
    let authority = Authority::new("pc test authority");
    let (certificate, key) = authority.sign(&["redis.example"]);
    let Some(server) = Server::start_tls(&certificate, &key, None).await else {
        return;
    };
    let queue = queue(&server, "tls", Tls::new().root_certificate(authority.pem()));
    let error = queue
        .producer()
        .await
        .expect_err("a name mismatch is refused");
    assert!(error.to_string().contains("not valid for name"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_checks_clients_takes_only_a_signed_client_certificate() {
    let authority = Authority::new("pc test authority");
    let clients = Authority::new("pc client authority");
    let Some(server) = tls_server(&authority, Some(&clients)).await else {
        return;
    };
    let trusting = || Tls::new().root_certificate(authority.pem());

    // Without a certificate, the server ends the handshake: the first command fails.
    let anonymous = queue(&server, "tls", trusting());
    assert!(anonymous.producer().await.is_err());
    // A certificate from an authority the server does not know fares no better.
    let (foreign, foreign_key) = authority.sign(&["client"]);
    let foreign = queue(
        &server,
        "tls",
        trusting().client_certificate(foreign, foreign_key),
    );
    assert!(foreign.producer().await.is_err());

    let (certificate, key) = clients.sign(&["client"]);
    let signed = queue(
        &server,
        "tls",
        trusting().client_certificate(certificate.clone(), key.clone()),
    );
    let ours = certificates(&authority, Some((certificate, key)));
    assert_eq!(
        round_trip(&server, &signed, 10, ours).await,
        (0..10).collect::<Vec<_>>()
    );
}

/// A restarted server is reached again over TLS: the producer's new connection is made from
/// the same certificates. (The server keeps nothing on disk: the stream starts empty again.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_reconnects_over_tls_after_a_restart() {
    let authority = Authority::new("pc test authority");
    let Some(mut server) = tls_server(&authority, None).await else {
        return;
    };
    let queue = queue(&server, "tls", Tls::new().root_certificate(authority.pem()));
    let producer = queue.producer().await.expect("connects over TLS");
    producer.send(1).await.expect("sent");
    server.restart().await;
    producer.send(2).await.expect("sent after reconnecting");

    let mut connection = own_connection(&server, certificates(&authority, None)).await;
    let entries: usize = redis::cmd("XLEN")
        .arg("tls")
        .query_async(&mut connection)
        .await
        .expect("XLEN");
    assert_eq!(
        entries, 1,
        "only the send after the restart is on the new server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limiter_decides_over_tls() {
    let authority = Authority::new("pc test authority");
    let Some(server) = tls_server(&authority, None).await else {
        return;
    };
    let limiter = RedisGcra::builder(server.url.as_str())
        .rate(1.0)
        .burst(3)
        .tls(Tls::new().root_certificate(authority.pem()))
        .build()
        .expect("valid settings");
    for _ in 0..3 {
        limiter
            .try_acquire("key", 1)
            .await
            .expect("within the burst");
    }
    assert!(limiter.try_acquire("key", 1).await.is_err());
}

#[test]
fn tls_settings_are_checked_when_built() {
    let authority = Authority::new("pc test authority");
    let build = |url: &str, tls: Option<Tls>| {
        let builder = RedisQueue::<u32>::builder(url, "tls");
        match tls {
            Some(tls) => builder.tls(tls).build(),
            None => builder.build(),
        }
        .map(drop)
    };
    let setting = |result: Result<(), BuildError>| match result {
        Err(BuildError::Invalid { setting, reason }) => (setting, reason),
        other => panic!("expected an invalid setting, got {other:?}"),
    };

    // Certificates on a URL without TLS would be ignored: refused instead.
    let (name, reason) = setting(build(
        "redis://127.0.0.1/",
        Some(Tls::new().root_certificate(authority.pem())),
    ));
    assert_eq!(name, "tls");
    assert!(reason.contains("rediss://"), "{reason}");
    // Text that is no certificate (which would trust nothing, or present nothing), and a key
    // that is none.
    let (name, reason) = setting(build(
        "rediss://127.0.0.1/",
        Some(Tls::new().root_certificate("not a certificate")),
    ));
    assert_eq!(name, "tls");
    assert!(reason.contains("root_certificate"), "{reason}");
    let (certificate, key) = authority.sign(&["client"]);
    let (name, reason) = setting(build(
        "rediss://127.0.0.1/",
        Some(Tls::new().client_certificate("", key)),
    ));
    assert_eq!(name, "tls");
    assert!(reason.contains("client_certificate"), "{reason}");
    let (name, _) = setting(build(
        "rediss://127.0.0.1/",
        Some(Tls::new().client_certificate(certificate, "not a key")),
    ));
    assert_eq!(name, "tls");
    // No certificate check at all is not offered.
    let (name, reason) = setting(build("rediss://127.0.0.1/#insecure", None));
    assert_eq!(name, "url");
    assert!(reason.contains("#insecure"), "{reason}");
    // The system's roots, without certificates of the queue's own, and upper-case schemes.
    build("rediss://127.0.0.1:6380/", None).expect("system roots");
    build("REDISS://127.0.0.1:6380/", None).expect("schemes are case-insensitive");
    assert_eq!(
        format!("{:?}", Tls::new().client_certificate("c", "secret")),
        "Tls { root_certificate: false, client_certificate: true }"
    );
}
