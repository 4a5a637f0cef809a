//! plumb's kernel-facing layer: namespaces, links, addresses, routes,
//! sysctls, processes and firewall rules. It knows nothing of Rhai or of the
//! journal (the build enforces it: this crate depends on neither).
//!
//! - [`types`]: the contract types callers send and receive (journaled on disk);
//! - [`Kernel`]: links, addresses and routes by name over rtnetlink
//!   ([`netlink`] holds all of the wire code), and [`Inspect`], the queries;
//! - [`netns`], [`sysctl`], [`process`], [`firewall`], [`probe`];
//! - [`programs`]: the programs plumb runs, and how to install a missing one;
//! - [`shell`]: every action as the `ip`/`sysctl` command a reader would type.

pub mod error;
pub mod firewall;
mod kernel;
mod netlink;
pub mod netns;
pub mod probe;
pub mod process;
pub mod programs;
pub mod shell;
pub mod sysctl;
pub mod types;

pub use error::{Error, Result};
pub use kernel::{Inspect, Kernel};
pub use types::*;
