//! Store seam for issue 13 §2: the hosts of a town (name, capacity,
//! heartbeat, state, epoch). The rules are `gt_core::rules::host`.

use gt_core::error::Result;

pub use gt_core::host::*;

pub trait HostStore {
    /// Adds host `name` (down, epoch 0) with a `host.joined` event; refuses
    /// a name the town already has.
    fn add_host(&self, name: &str, capacity: Option<u32>, actor: &str) -> Result<Host>;
    fn get_host(&self, name: &str) -> Result<Host>;
    /// Every host, by name.
    fn list_hosts(&self) -> Result<Vec<Host>>;
    /// Its daemon starts: `up` with the next epoch, which the daemon carries
    /// on its later writes (`host.up`).
    fn host_up(&self, name: &str, actor: &str) -> Result<Host>;
    /// A patrol's heartbeat; refused (fenced) unless the host is up at
    /// `epoch`. Appends no event.
    fn host_heartbeat(&self, name: &str, epoch: i64) -> Result<Host>;
    /// Its daemon stops on purpose (`host.down`); fenced like a heartbeat.
    fn host_down(&self, name: &str, epoch: i64, actor: &str) -> Result<Host>;
    /// Every up host with no heartbeat at or after `stale_before` becomes
    /// `dead`, one `host.dead` event each, in one transaction; returns them.
    fn declare_dead_hosts(&self, stale_before: &str, actor: &str) -> Result<Vec<Host>>;
    fn set_host_capacity(&self, name: &str, capacity: Option<u32>, actor: &str) -> Result<Host>;
    /// `holder` takes or renews lease `name` until `expires_at` (a
    /// canonical timestamp), in one transaction; refused while another
    /// holder's lease is unexpired. A new holder is a `lease.taken` event.
    fn take_lease(&self, name: &str, holder: &str, expires_at: &str, actor: &str) -> Result<Lease>;
    /// `holder` gives lease `name` up (it expires now); nothing when another
    /// host holds it or there is none.
    fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
    /// Every lease, expired or not, by name.
    fn list_leases(&self) -> Result<Vec<Lease>>;
    /// The settings every host of the town uses (a TOML document the town
    /// services write and read), if any were stored.
    fn town_settings(&self) -> Result<Option<String>>;
    /// Replaces the town's settings with `settings`, in one transaction
    /// with `event` (a `config.set`), only if they still are `expected`
    /// (`None`: none stored yet) — else refused, so a change made from
    /// another host meanwhile is never overwritten. Refused too: empty,
    /// larger than [`MAX_TOWN_SETTINGS`] bytes, or holding a NUL.
    fn set_town_settings(
        &self,
        settings: &str,
        expected: Option<&str>,
        event: gt_core::event::NewEvent,
        actor: &str,
    ) -> Result<()>;
}

/// The largest settings document a town stores.
pub const MAX_TOWN_SETTINGS: usize = 64 * 1024;

/// [`HostStore::set_town_settings`]'s check, the same on every backend.
pub fn check_town_settings(settings: &str) -> Result<()> {
    if settings.trim().is_empty() || settings.len() > MAX_TOWN_SETTINGS || settings.contains('\0') {
        return Err(gt_core::error::Error::invalid(format!(
            "town settings must be 1 to {MAX_TOWN_SETTINGS} bytes of text"
        )));
    }
    Ok(())
}

/// The refusal of a settings change whose `expected` document is no longer
/// the stored one.
pub fn settings_moved() -> gt_core::error::Error {
    gt_core::error::Error::refused(
        "the town's settings were changed meanwhile; nothing was changed",
    )
}
