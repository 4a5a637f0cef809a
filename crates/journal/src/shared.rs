//! Objects many runs use: a shared bridge, a shared MASQUERADE, host-wide
//! sysctls such as ip_forward, another run's bridge. Who uses one is derived
//! from the live journals alone (no second source of truth), read under the
//! state lock: an object goes only when the last live run using it goes.

use crate::error::Result;
use crate::journal::{Entry, Journal, Status};
use crate::op::{Op, Owner};

/// A live run's entry that holds a shared object.
pub struct Holder {
    pub run: String,
    pub entry: Entry,
}

/// Is the journal's run still holding what it made (not rolled back)?
fn holds(journal: &Journal) -> bool {
    !matches!(journal.status(), Status::RolledBack | Status::Unreadable)
}

/// The live entries of runs other than `except` that hold the shared object `key`.
pub fn holders(key: &str, except: &str) -> Result<Vec<Holder>> {
    let mut found = Vec::new();
    for id in Journal::mentioning(&Journal::shared_needle(key))? {
        if id == except {
            continue;
        }
        let Ok(journal) = Journal::load(&id) else {
            continue; // removed meanwhile: it held nothing
        };
        if !holds(&journal) {
            continue;
        }
        found.extend(
            journal
                .entries()
                .iter()
                .filter(|e| e.state.is_live() && e.op.shared_key().as_deref() == Some(key))
                .map(|e| Holder {
                    run: journal.run_id.clone(),
                    entry: e.clone(),
                }),
        );
    }
    Ok(found)
}

/// Live runs that use objects `owner` made, with the links they use:
/// (run, link name).
pub fn users(owner: &str) -> Result<Vec<(String, String)>> {
    let needle = serde_json::to_vec(&Owner::Run(owner.to_string())).expect("serializes");
    let mut found = Vec::new();
    for id in Journal::mentioning(&needle)? {
        if id == owner {
            continue;
        }
        let Ok(journal) = Journal::load(&id) else {
            continue;
        };
        if !holds(&journal) {
            continue;
        }
        for e in journal.entries().iter().filter(|e| e.state.is_live()) {
            if let Op::Use {
                name,
                owner: Owner::Run(r),
                ..
            } = &e.op
            {
                if r == owner {
                    found.push((journal.run_id.clone(), name.clone()));
                }
            }
        }
    }
    Ok(found)
}
