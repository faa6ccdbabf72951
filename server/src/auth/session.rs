//! Browser sessions: a random id in the cookie, its expiry and its CSRF
//! token kept here, so that a session can end (logout, expiry) and a form
//! token planted by another site cannot match it.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A logged-in browser.
#[derive(Debug)]
pub struct Session {
    expires: Instant,
    /// The token its forms must carry.
    pub csrf: String,
}

pub struct Sessions {
    open: Mutex<HashMap<String, Arc<Session>>>,
    ttl: Duration,
}

/// `n` bytes from the kernel's generator, as hex: ids and tokens must not be
/// guessable.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).expect("/dev/urandom is readable");
    hex::encode(bytes)
}

impl Sessions {
    pub fn new(ttl: Duration) -> Sessions {
        Sessions { open: Mutex::new(HashMap::new()), ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new session; its id goes in the cookie.
    pub fn start(&self) -> String {
        let id = random_hex(32);
        let now = Instant::now();
        let session = Arc::new(Session { expires: now + self.ttl, csrf: random_hex(16) });
        let mut open = self.open.lock().expect("not poisoned");
        open.retain(|_, s| s.expires > now);
        open.insert(id.clone(), session);
        id
    }

    /// The live session `id` names, if any.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let mut open = self.open.lock().expect("not poisoned");
        match open.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                open.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn end(&self, id: &str) {
        self.open.lock().expect("not poisoned").remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_expire_and_end() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let (a, b) = (sessions.start(), sessions.start());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(sessions.get(&a).unwrap().csrf, sessions.get(&b).unwrap().csrf);
        sessions.end(&a);
        assert!(sessions.get(&a).is_none(), "ended");
        std::thread::sleep(Duration::from_millis(60));
        assert!(sessions.get(&b).is_none(), "expired");
    }
}
