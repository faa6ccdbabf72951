//! The slots: what this server runs at once. Fixed at start-up from the
//! trainer's `doctor` report: each GPU times `runs_per_gpu`, or `cpu_slots`
//! CPU slots when there is no GPU. A job holds its slot through a
//! [`SlotLease`], which frees the slot (and wakes the scheduler) when it is
//! dropped, however the job's task ends.

use std::sync::{Arc, Mutex};

use advmix_protocol::DoctorReport;
use tokio::sync::Notify;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Stored with the run: `cuda:0/1` is the second run on GPU 0.
    pub name: String,
    pub device: String,
}

/// The slots this machine offers. `gpus` overrides the number of GPUs the
/// trainer found (0 forces CPU).
pub fn plan_slots(report: Option<&DoctorReport>, gpus: Option<usize>, runs_per_gpu: usize, cpu_slots: usize) -> Vec<Slot> {
    let gpus = gpus.unwrap_or_else(|| report.map_or(0, |r| r.cuda_devices.len()));
    if gpus > 0 {
        (0..gpus)
            .flat_map(|g| (0..runs_per_gpu.max(1)).map(move |k| Slot { name: format!("cuda:{g}/{k}"), device: format!("cuda:{g}") }))
            .collect()
    } else {
        (0..cpu_slots.max(1)).map(|k| Slot { name: format!("cpu/{k}"), device: "cpu".into() }).collect()
    }
}

/// Slots for a cluster executor: `jobs` places named `slurm/K` on `device`.
/// The cluster does the real placement; these only count what is submitted.
pub fn cluster_slots(executor: &str, jobs: usize, device: &str) -> Vec<Slot> {
    (0..jobs.max(1)).map(|k| Slot { name: format!("{executor}/{k}"), device: device.to_owned() }).collect()
}

/// What a slot is busy with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Run(i64),
    Eval(i64),
}

pub struct Slots {
    slots: Vec<Slot>,
    busy: Mutex<Vec<Option<Job>>>,
    /// Notified when a slot frees up.
    freed: Arc<Notify>,
}

impl Slots {
    pub fn new(slots: Vec<Slot>, freed: Arc<Notify>) -> Arc<Slots> {
        Arc::new(Slots { busy: Mutex::new(vec![None; slots.len()]), slots, freed })
    }

    pub fn all(&self) -> &[Slot] {
        &self.slots
    }

    /// The indexes of the free slots, in order.
    pub fn free(&self) -> Vec<usize> {
        self.busy.lock().expect("not poisoned").iter().enumerate().filter(|(_, b)| b.is_none()).map(|(i, _)| i).collect()
    }

    pub fn busy_count(&self) -> usize {
        self.busy.lock().expect("not poisoned").iter().flatten().count()
    }

    /// Slot `index` for `job`, if it is still free.
    pub fn take(self: &Arc<Self>, index: usize, job: Job) -> Option<SlotLease> {
        let mut busy = self.busy.lock().expect("not poisoned");
        if busy.get(index)?.is_some() {
            return None;
        }
        busy[index] = Some(job);
        Some(SlotLease { slots: self.clone(), index })
    }

    /// A slot for a job adopted after a restart: the one it had if that is
    /// free, else any free one, else none (it still runs, over capacity).
    pub fn adopt(self: &Arc<Self>, job: Job, name: Option<&str>) -> Option<SlotLease> {
        let index = {
            let busy = self.busy.lock().expect("not poisoned");
            name.and_then(|name| self.slots.iter().position(|s| s.name == name))
                .filter(|&i| busy[i].is_none())
                .or_else(|| busy.iter().position(Option::is_none))?
        };
        self.take(index, job)
    }

    /// The slot `job` holds, if any.
    pub fn of(&self, job: Job) -> Option<&Slot> {
        let index = self.busy.lock().expect("not poisoned").iter().position(|b| *b == Some(job))?;
        self.slots.get(index)
    }
}

/// A held slot; dropping it frees the slot.
pub struct SlotLease {
    slots: Arc<Slots>,
    index: usize,
}

impl SlotLease {
    pub fn slot(&self) -> &Slot {
        &self.slots.slots[self.index]
    }
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        self.slots.busy.lock().expect("not poisoned")[self.index] = None;
        self.slots.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_gpus_or_fall_back_to_cpu() {
        let cpu = plan_slots(None, None, 1, 2);
        assert_eq!(cpu.iter().map(|s| s.device.as_str()).collect::<Vec<_>>(), ["cpu", "cpu"]);
        let gpus = plan_slots(None, Some(2), 2, 1);
        assert_eq!(gpus.len(), 4);
        assert_eq!(gpus[3], Slot { name: "cuda:1/1".into(), device: "cuda:1".into() });
        assert_eq!(plan_slots(None, Some(0), 2, 3).len(), 3);
    }

    #[test]
    fn a_dropped_lease_frees_its_slot() {
        let slots = Slots::new(plan_slots(None, Some(0), 1, 2), Arc::new(Notify::new()));
        let first = slots.take(0, Job::Run(1)).unwrap();
        assert!(slots.take(0, Job::Run(2)).is_none(), "a held slot is not handed out twice");
        assert_eq!(slots.free(), [1]);
        assert_eq!(slots.of(Job::Run(1)).unwrap().name, "cpu/0");
        drop(first);
        assert_eq!(slots.free(), [0, 1]);
        let adopted = slots.adopt(Job::Eval(3), Some("cpu/1")).unwrap();
        assert_eq!(adopted.slot().name, "cpu/1", "an adopted job gets its old slot back");
    }
}
