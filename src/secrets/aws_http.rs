//! The AWS SDK's HTTP client: the same reqwest/hyper/rustls stack the intake uses, so the
//! extension carries one HTTP/TLS implementation instead of two. It follows only the standard
//! proxy variables (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, as reqwest reads them) and never
//! `DD_PROXY_HTTPS`, which is for Datadog-bound traffic. Request and response bodies of the two
//! calls we make are small and buffered whole.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use std::sync::Mutex;
use std::time::Duration;

/// An SDK client over reqwest; `proxy_from_env` = honour the standard proxy variables.
pub(crate) fn client(proxy_from_env: bool) -> SharedHttpClient {
    SharedHttpClient::new(Client {
        proxy_from_env,
        connectors: Mutex::new(Vec::new()),
    })
}

/// Timeouts a connector was built with.
type Timeouts = (Option<Duration>, Option<Duration>);

/// The SDK asks for a connector on every attempt; one is built per timeout setting and kept,
/// so attempts share its connection pool and TLS set-up.
#[derive(Debug)]
struct Client {
    proxy_from_env: bool,
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

impl HttpClient for Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = crate::sync::lock(&self.connectors);
        if let Some((_, c)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return c.clone();
        }
        let mut builder = reqwest::Client::builder();
        if !self.proxy_from_env {
            builder = builder.no_proxy();
        }
        if let Some(t) = timeouts.0 {
            builder = builder.connect_timeout(t);
        }
        if let Some(t) = timeouts.1 {
            builder = builder.read_timeout(t);
        }
        let connector = SharedHttpConnector::new(Connector(builder.build()));
        connectors.push((timeouts, connector.clone()));
        connector
    }
}

#[derive(Debug)]
struct Connector(reqwest::Result<reqwest::Client>);

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = match &self.0 {
            Ok(c) => c.clone(),
            Err(e) => {
                let e = ConnectorError::other(format!("HTTP client: {e}").into(), None);
                return HttpConnectorFuture::ready(Err(e));
            }
        };
        HttpConnectorFuture::new(async move {
            let method = reqwest::Method::from_bytes(request.method().as_bytes())
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let mut req = client.request(method, request.uri());
            for (name, value) in request.headers().iter() {
                req = req.header(name, value);
            }
            let body = request.body().bytes().unwrap_or_default().to_vec();
            let resp = req.body(body).send().await.map_err(transport)?;
            let status = StatusCode::try_from(resp.status().as_u16())
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            let bytes = resp.bytes().await.map_err(transport)?;
            let mut out = Response::new(status, SdkBody::from(bytes));
            for (k, v) in headers {
                out.headers_mut().append(k, v);
            }
            Ok(out)
        })
    }
}

/// A transport failure, classified the way the SDK's retry policy expects.
fn transport(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else {
        ConnectorError::io(e.into())
    }
}
