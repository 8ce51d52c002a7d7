//! Planning: checked topologies → desired states → a plan, without touching the kernel.

use netplan_lang::Diag;
use netplan_lang::Topology;

use crate::desired::Desired;
use crate::diff::{Plan, diff};
use crate::ipam::{self, Allocated, HostReserved};
use crate::lock::Lock;

/// A plan and the allocation it was made from (the new desired state and lock).
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub allocated: Allocated,
}

/// Plans `new` against what is recorded as applied (`None`: nothing yet).
///
/// A container stopped with `netplan stop` stays stopped in `applied`; the new desired state
/// wants every container running, so the plan shows it being started.
pub fn against_applied(
    new: &Topology,
    lock: &Lock,
    applied: Option<&Desired>,
    host: &HostReserved,
) -> Result<Planned, Vec<Diag>> {
    let allocated = ipam::allocate(new, lock, host)?;
    let empty = Desired {
        topology: new.name.clone(),
        ..Desired::default()
    };
    let mut plan = diff(applied.unwrap_or(&empty), &allocated.desired);
    plan.notes = allocated.notes.clone();
    Ok(Planned { plan, allocated })
}

/// Plans `new` against another revision of the file (`plan --against OLD.net`): no machine
/// is involved. Both sides are allocated from the same lock file, so everything the lock
/// pins keeps its address on both sides.
pub fn against_file(new: &Topology, old: &Topology, lock: &Lock) -> Result<Planned, Vec<Diag>> {
    let none = HostReserved::default();
    let before = ipam::allocate(old, lock, &none)?;
    // What the old revision allocated is pinned for the new one too.
    let mut merged = before.lock.clone();
    for (k, v) in &lock.networks {
        merged.networks.entry(k.clone()).or_insert_with(|| v.clone());
    }
    // Merged in one go: inserting one by one into the sorted vector would be quadratic.
    let missing: Vec<_> = lock
        .containers
        .iter()
        .filter(|(k, _)| !merged.containers.contains_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !missing.is_empty() {
        merged.containers = std::mem::take(&mut merged.containers)
            .into_iter()
            .chain(missing)
            .collect();
    }
    let allocated = ipam::allocate(new, &merged, &none)?;
    let mut plan = diff(&before.desired, &allocated.desired);
    plan.notes = allocated.notes.clone();
    Ok(Planned { plan, allocated })
}
