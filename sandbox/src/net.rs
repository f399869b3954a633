//! Plumbing shared by both fakes: the HTTP client they call out with and the server lifecycle.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Installs ring as the process-wide rustls provider.
///
/// reqwest is built with `rustls-no-provider`, so it panics on the first client build unless a
/// provider is installed. A second installation fails harmlessly, hence the ignored result.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The client both fakes use to call the services under test (webhooks, payment callbacks).
///
/// Certificates are not verified because the fleet's nginx uses a self-signed certificate in
/// sandbox mode, exactly the case where real Telegram gets the certificate uploaded instead.
pub(crate) fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    Ok(reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .timeout(timeout)
        .no_proxy()
        .build()?)
}

pub(crate) async fn bind_local(port: u16) -> anyhow::Result<TcpListener> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?)
}

/// `http://IP:PORT` for a bound address; a wildcard bind is reached through loopback.
pub(crate) fn base_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        Ipv4Addr::LOCALHOST.into()
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Owned by every clone of a fake's handle through an `Arc`: when the last clone goes away (or
/// `shutdown` is called) the server stops accepting and in-flight handlers that wait on the
/// stop signal (Heleket's Hang mode) return.
pub(crate) struct ServerGuard {
    stop: watch::Sender<bool>,
}

impl ServerGuard {
    pub(crate) fn shutdown(&self) {
        self.stop.send_replace(true);
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A stop signal is created before the router so the router's state can watch it.
pub(crate) fn stop_channel() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(false)
}

/// Resolves once the server is told to stop (or its guard is gone).
pub(crate) async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

pub(crate) fn spawn_server(
    listener: TcpListener,
    router: Router,
    stop: watch::Sender<bool>,
    name: &'static str,
) -> ServerGuard {
    let rx = stop.subscribe();
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(stopped(rx))
            .await;
        if let Err(err) = served {
            tracing::warn!(%err, fake = name, "sandbox server stopped with an error");
        }
    });
    ServerGuard { stop }
}
