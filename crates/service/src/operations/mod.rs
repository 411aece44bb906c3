//! Operations: running the instance. Administration behind the admin API
//! that `concord user|token|guild|stats` call (`admin`, with its request
//! bodies in `input`), online backups (`backup`), readiness (`health`), and
//! removing what deleted channels held in the background (`purge`).
//! Guild permissions play no part here: the API lets only instance admins
//! (or the local control token) in.
//!
//! Depends on accounts (creating accounts by the same rules), access
//! (revoking tokens), guilds (deleting a guild), attachments (copying the
//! blobs) and search (copying the index).

pub mod admin;
pub mod backup;
pub mod health;
pub mod input;
pub mod purge;

pub use input::{AdminCreateUser, AdminPatchUser, AdminResetPassword};
