//! The pooled HTTP client for Datadog-bound requests: `DD_PROXY_HTTPS` (except
//! `DD_PROXY_NO_PROXY` hosts), `DD_TLS_CERT_FILE` roots, `DD_SKIP_SSL_VALIDATION`,
//! `DD_HTTP_PROTOCOL` (HTTP/2 by ALPN unless forced). A bad setting
//! is one warning naming it, then the default.

use crate::config::{Config, HttpProtocol};
use std::time::Duration;

pub(super) fn build(config: &Config) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(8)
        .pool_idle_timeout(config.intake_idle)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("tandem/", env!("CARGO_PKG_VERSION")))
        .no_proxy();
    if let Some(proxy) = &config.proxy_https {
        match reqwest::Proxy::https(proxy) {
            Ok(p) => {
                let no_proxy = reqwest::NoProxy::from_string(&config.no_proxy.join(","));
                builder = builder.proxy(p.no_proxy(no_proxy));
            }
            Err(_) => crate::log_warn!(
                "DD_PROXY_HTTPS is not a valid proxy URL; expected http://host:port; connecting directly"
            ),
        }
    }
    if let Some(path) = &config.tls_cert_file {
        let certs = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string()));
        match certs {
            Ok(certs) if !certs.is_empty() => {
                for c in certs {
                    builder = builder.add_root_certificate(c);
                }
            }
            Ok(_) => crate::log_warn!(
                "DD_TLS_CERT_FILE={path:?} holds no certificate; expected PEM certificates; using the default roots only"
            ),
            Err(e) => crate::log_warn!(
                "DD_TLS_CERT_FILE={path:?} could not be read ({e}); expected PEM certificates; using the default roots only"
            ),
        }
    }
    builder = match config.http_protocol {
        // ALPN: HTTP/2 where the intake offers it (Datadog's do), multiplexing a host's
        // requests on one connection; HTTP/1.1 elsewhere.
        HttpProtocol::Auto => builder,
        HttpProtocol::Http1 => builder.http1_only(),
        HttpProtocol::Http2 => builder.http2_prior_knowledge(),
    };
    if config.skip_ssl_validation {
        crate::log_warn!(
            "DD_SKIP_SSL_VALIDATION=true: the intake's TLS certificates are not verified"
        );
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder.build()
}
