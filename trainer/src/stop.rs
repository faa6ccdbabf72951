//! When to stop early: on SIGTERM (the server's stop button), or after a
//! fixed number of batches (tests of stop-and-resume).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub struct StopSignal {
    flag: Arc<AtomicBool>,
    after_batches: Option<u64>,
    batches: AtomicU64,
}

impl StopSignal {
    pub fn never() -> StopSignal {
        StopSignal { flag: Arc::new(AtomicBool::new(false)), after_batches: None, batches: AtomicU64::new(0) }
    }

    /// Raised by SIGTERM; the handler only sets a flag, checked between batches.
    pub fn on_sigterm() -> std::io::Result<StopSignal> {
        let signal = StopSignal::never();
        signal_hook::flag::register(signal_hook::consts::SIGTERM, signal.flag.clone())?;
        Ok(signal)
    }

    pub fn after_batches(n: u64) -> StopSignal {
        StopSignal { after_batches: Some(n), ..StopSignal::never() }
    }

    /// Counts a finished batch and says whether to stop now.
    pub fn batch_done(&self) -> bool {
        let done = self.batches.fetch_add(1, Ordering::Relaxed) + 1;
        self.requested() || self.after_batches.is_some_and(|n| done >= n)
    }

    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}
