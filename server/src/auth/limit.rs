//! Failed credentials per client address. After `MAX_FAILURES` wrong tokens
//! within `WINDOW`, the address is refused until the window ends, before its
//! credential is even looked at: a guess that would have been right is
//! refused too, so guessing gains nothing by going fast. Rate limiters that
//! count every request (the `governor` crate's model) do not fit: only
//! failures count, and the refusal must come before the check.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Failures {
    by_address: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// The address a request came from; requests that do not say (tests
/// through `oneshot`) share one.
pub fn address(peer: Option<std::net::SocketAddr>) -> IpAddr {
    peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.ip())
}

impl Failures {
    /// How long `address` must wait before trying again, if it must.
    pub fn blocked(&self, address: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let by_address = self.by_address.lock().expect("not poisoned");
        let &(start, count) = by_address.get(&address)?;
        let left = (start + WINDOW).checked_duration_since(now)?;
        (count >= MAX_FAILURES).then_some(left)
    }

    pub fn fail(&self, address: IpAddr) {
        let now = Instant::now();
        let mut by_address = self.by_address.lock().expect("not poisoned");
        if by_address.len() > 10_000 {
            by_address.retain(|_, (start, _)| now < *start + WINDOW);
        }
        let entry = by_address.entry(address).or_insert((now, 0));
        if now >= entry.0 + WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_too_many_failures_and_others_are_not() {
        let failures = Failures::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        for _ in 0..MAX_FAILURES - 1 {
            failures.fail(a);
        }
        assert!(failures.blocked(a).is_none());
        failures.fail(a);
        assert!(failures.blocked(a).is_some_and(|left| left <= WINDOW));
        assert!(failures.blocked(b).is_none());
    }
}
