//! Work done after a platform was acknowledged (Slack's 3 s, Discord's deferral): spawned and
//! counted, so a test (or a process stopping) can wait until every answer under way is done.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use anyhow::Result;

struct Done(Arc<InFlight>);

impl Drop for Done {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The answers under way.
#[derive(Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: tokio::sync::Notify,
}

impl InFlight {
    /// Runs `work` in the background; a failure is logged as `what` on `platform`.
    pub fn spawn(
        self: &Arc<Self>,
        platform: &'static str,
        what: &'static str,
        work: impl std::future::Future<Output = Result<()>> + Send + 'static,
    ) {
        self.count.fetch_add(1, SeqCst);
        // Counted down however the work ends, a panic included.
        let done = Done(self.clone());
        tokio::spawn(async move {
            let _done = done;
            if let Err(e) = work.await {
                tracing::error!("answering a {platform} {what} failed: {e:#}");
            }
        });
    }

    /// Waits until no answer is under way: everything acknowledged so far was answered (or
    /// failed). Tests use it to prove that nothing more will be posted.
    pub async fn idle(&self) {
        loop {
            let idle = self.idle.notified();
            if self.count.load(SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}
