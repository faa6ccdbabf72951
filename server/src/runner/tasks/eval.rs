//! An evaluation job's task: follows `advmix-trainer eval` through its
//! events file, like a training run, so that a job survives a server
//! restart; its report event (stored by the ingest) settles it, anything
//! else fails it with the reason.

use std::sync::Arc;

use advmix_protocol::layout::EVENTS_FILE;
use tokio::sync::Notify;

use super::stderr_tail;
use crate::runner::context::TaskContext;
use crate::runner::executor::{Exit, Handle};
use crate::runner::follow::{Followed, follow};
use crate::runner::ingest::{self, Source};
use crate::runner::slots::SlotLease;
use crate::store::{self, EvalStatus};

pub async fn run(ctx: TaskContext, eval_id: i64, handle: Handle, activity: Arc<Notify>, lease: Option<SlotLease>) {
    let dir = ctx.paths.eval_dir(eval_id);
    let events = dir.join(EVENTS_FILE);
    let followed = follow(&ctx, Source::Eval(eval_id), &events, &handle, activity).await;
    if followed == Followed::LeftRunning {
        return;
    }
    let ended = || async {
        ingest::ingest(&ctx.db, Source::Eval(eval_id), &events, Some(&ctx.bus)).await.map_err(|e| e.to_string())?;
        settle(&ctx, eval_id, &followed).await.map_err(|e| e.to_string())
    };
    if ctx.until_written(&format!("how evaluation {eval_id} ended"), ended).await {
        ctx.publish_eval(eval_id).await;
    }
    drop(lease);
}

async fn settle(ctx: &TaskContext, eval_id: i64, followed: &Followed) -> sqlx::Result<()> {
    let Some(row) = store::evals::get(&ctx.db, eval_id).await? else { return Ok(()) };
    if row.status != EvalStatus::Running {
        return Ok(());
    }
    let dir = ctx.paths.eval_dir(eval_id);
    // The job's own `failed` event, kept by the ingest, says it best.
    let reason = row.error.clone().unwrap_or_else(|| match followed {
        Followed::Ended(Exit::Code(0)) => "the evaluation ended without a report".into(),
        Followed::Ended(Exit::Unknown) | Followed::Gone | Followed::LeftRunning => {
            "the evaluation ended while the server was not watching and wrote no report; evaluate again".into()
        }
        Followed::Ended(Exit::Cancelled(why)) => format!("the evaluation was cancelled: {why}"),
        Followed::Ended(exit) => format!("the evaluation failed ({exit}): {}", stderr_tail(&dir)),
    });
    tracing::info!(eval = eval_id, %reason, "evaluation failed");
    store::evals::fail(&ctx.db, eval_id, &reason).await?;
    Ok(())
}
