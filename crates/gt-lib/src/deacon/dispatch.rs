//! Patrol steps that move work on: the refinery run and the dispatch of
//! queued slings within capacity.

use super::*;

impl Patrol<'_> {
    /// The refinery lands what `gt done` queued, rig by rig (every rig with
    /// merge work); a rig that fails is that rig's fault, the others land.
    /// It records its own `merge.*` events; the patrol only reports it.
    pub(super) fn refinery(&mut self) -> Result<()> {
        use crate::store::merge::MergeStore;
        for rig in self.ws.store.rigs_with_merge_work()? {
            self.guard(Subject::rig(&rig), step::REFINERY, |p| {
                let r = crate::refinery::run_once(p.ws, Some(&rig), ACTOR)?;
                p.report.actions.extend(refinery_actions(&r));
                Ok(())
            });
        }
        Ok(())
    }

    pub(super) fn dispatch(&mut self, held: &[String]) -> Result<()> {
        let d = crate::scheduler::dispatch_holding(self.ws, ACTOR, held)?;
        // A bead that cannot start is its rig's fault (it stays queued).
        for (bead, error) in &d.failed {
            let rig = crate::store::BeadStore::get_bead(&self.ws.store, bead)
                .ok()
                .and_then(|b| {
                    b.metadata
                        .get(crate::scheduler::META_RIG)
                        .and_then(|v| v.as_str())
                        .map(|r| r.split('/').next().unwrap_or("").to_string())
                })
                .filter(|r| !r.is_empty());
            let subject = rig
                .as_deref()
                .map(Subject::rig)
                .unwrap_or_else(Subject::town);
            if self
                .report
                .failures
                .iter()
                .any(|f| f.step == step::DISPATCH && f.subject == subject)
            {
                continue;
            }
            self.failed(
                subject,
                step::DISPATCH,
                &Error::Refused(format!("queued {bead} cannot start: {error}")),
            );
        }
        for s in d.started {
            self.act(
                &format!("dispatch:{}:{}", s.bead, s.session_id),
                kind::DISPATCHED,
                None,
                format!("dispatched queued {} to {}", s.bead, s.agent),
                json!({ "bead": s.bead, "agent": s.agent, "session": s.session_id }),
            )?;
        }
        Ok(())
    }
}
