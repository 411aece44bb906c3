//! Cluster: what keeps the nodes serving one instance in step. Leases
//! (`leases`: the node's snowflake ids, and singleton tasks that one node
//! runs at a time), and this node's caches kept true to writes made
//! through other nodes (`invalidation`: the recent-messages cache and the
//! token cache follow the whole bus; `Service::caught_up`).
//!
//! Depends on the bus and the realtime leases, and on the caches it
//! invalidates (`messages::cache`, `access::auth`); no component depends
//! on it but for `caught_up` before a cached read. Its tests run several
//! services over one store (`two_nodes`, also the fixtures other
//! components' tests build on).

pub mod invalidation;
pub mod leases;
#[cfg(test)]
pub(crate) mod two_nodes;

pub use leases::keep_lease;
