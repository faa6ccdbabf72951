//! The Host check against DNS rebinding: a web page that gets its own name
//! to resolve to 127.0.0.1 reaches this server as same-origin, and only the
//! Host header still shows the foreign name. So a request is answered only
//! when its Host names this server: an address it listens on, `localhost`,
//! or a name the operator allowed. An IP literal cannot be rebound, so the
//! check is on names; the port is not part of it.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Clone, Debug)]
pub struct AllowedHosts {
    bind: IpAddr,
    /// Lower case; one starting with `.` allows every name under it.
    names: Vec<String>,
}

impl AllowedHosts {
    pub fn new(bind: IpAddr, names: &[String]) -> AllowedHosts {
        let names = names.iter().map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase()).filter(|n| !n.is_empty()).collect();
        AllowedHosts { bind, names }
    }

    /// Whether a `Host` header value names this server.
    pub fn accepts(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else { return false };
        if let Ok(ip) = name.parse::<IpAddr>() {
            return self.bind.is_unspecified() || ip == self.bind || (ip.is_loopback() && self.bind.is_loopback());
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name == "localhost" || self.names.iter().any(|n| *n == name || (n.starts_with('.') && name.ends_with(n.as_str())))
    }

    fn listed(&self) -> String {
        let mut all = vec![format!("{}", self.bind), "localhost".to_owned()];
        all.extend(self.names.iter().cloned());
        all.join(", ")
    }
}

/// The name part of `name`, `name:port`, `[v6]` or `[v6]:port`; `None` when
/// it is not of that shape.
fn host_name(host: &str) -> Option<&str> {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => {
            let (v6, after) = rest.split_once(']')?;
            v6.parse::<std::net::Ipv6Addr>().ok()?;
            (v6, after.strip_prefix(':'))
        }
        None if host.matches(':').count() > 1 => return None,
        None => match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) || name.is_empty() {
        return None;
    }
    Some(name)
}

/// 421 for a request whose Host names another server. A request without a
/// Host passes: every browser sends one, so it is not a page's request.
pub async fn check(State(hosts): State<std::sync::Arc<AllowedHosts>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(axum::http::header::HOST).map(|h| h.to_str().unwrap_or("\u{fffd}").to_owned());
    let host = host.or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(host) if !hosts.accepts(&host) => {
            tracing::warn!(%host, "refused a request for another host name (DNS rebinding?)");
            let message = format!(
                "this server answers to {} only, not to the Host `{host}`; if that name is this server, start it with --allowed-hosts {}",
                hosts.listed(),
                host_name(&host).unwrap_or("NAME")
            );
            (StatusCode::MISDIRECTED_REQUEST, axum::Json(json!({ "error": message }))).into_response()
        }
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_pass_and_foreign_names_do_not() {
        let hosts = AllowedHosts::new("127.0.0.1".parse().unwrap(), &["advmix.lab.example".into(), ".cluster.example".into()]);
        for ok in ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST", "advmix.lab.example", "node3.cluster.example:80"] {
            assert!(hosts.accepts(ok), "{ok}");
        }
        for bad in ["rebind.attacker.example:8383", "10.0.0.5", "localhost.attacker.example", "cluster.example.evil", "", "a:b:c", "[zz]:1", "x:99999"] {
            assert!(!hosts.accepts(bad), "{bad}");
        }
    }

    #[test]
    fn an_unspecified_bind_takes_any_address_but_no_foreign_name() {
        let hosts = AllowedHosts::new("0.0.0.0".parse().unwrap(), &[]);
        assert!(hosts.accepts("10.0.0.5:8080") && hosts.accepts("[fe80::1]"));
        assert!(!hosts.accepts("evil.example"));
        let specific = AllowedHosts::new("10.0.0.5".parse().unwrap(), &[]);
        assert!(specific.accepts("10.0.0.5:8080") && !specific.accepts("10.0.0.6:8080") && !specific.accepts("127.0.0.1"));
    }
}
