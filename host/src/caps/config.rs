//! Configuration that is not secret: the `config` interface hands an action
//! the values its grant holds for the keys its manifest declares.
//!
//! Values are not recorded one read at a time: every value of a run is in
//! its `run.start` grant. Asking for a key the manifest does not declare is
//! refused and recorded, as an undeclared secret is.

use crate::caps::secrets::undeclared;
use crate::runtime::bindings::airlock::action::config::{Error as WitError, Host};
use airlock_audit::{Event, EventKind, Recorder};
use airlock_rules::grant::Grant;
use airlock_rules::manifest::Manifest;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::HasData;

/// Each declared key's value in the text form the action reads; `None`
/// for a key without one.
#[derive(Debug, Default)]
pub struct Values(BTreeMap<String, Option<String>>);

impl Values {
    /// The values `grant` holds for the keys `manifest` declares.
    pub fn of(manifest: &Manifest, grant: &Grant) -> Values {
        Values(
            manifest
                .config
                .keys()
                .map(|key| (key.clone(), grant.config.get(key).map(ToString::to_string)))
                .collect(),
        )
    }

    /// `config.get`: the value of a declared key, or a recorded refusal.
    pub fn get(
        &self,
        name: &str,
        recorder: &Recorder,
    ) -> Result<Result<Option<String>, WitError>, airlock_audit::AuditError> {
        if let Some(value) = self.0.get(name) {
            return Ok(Ok(value.clone()));
        }
        let shown = undeclared(name);
        let event = Event::new(EventKind::ConfigRead)
            .target(shown.as_str())
            .field("target_len", name.len())
            .field(
                "target_sha256",
                airlock_rules::provenance::hex(&sha2::Sha256::digest(name)),
            )
            .deny(format!(
                "config `{shown}` is not declared: the action's manifest must declare it under \
                 [config.{shown}], and the new version be approved"
            ));
        recorder.record(event)?;
        Ok(Err(WitError::NotDeclared))
    }
}

/// The `config` interface's view of a run.
pub struct ConfigView<'a> {
    /// The run's values.
    pub values: &'a Arc<Values>,
    /// Where refusals are recorded.
    pub recorder: &'a Recorder,
}

/// [`HasData`] marker for linking the `config` interface.
pub struct ConfigCap;

impl HasData for ConfigCap {
    type Data<'a> = ConfigView<'a>;
}

impl Host for ConfigView<'_> {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<Option<String>, WitError>> {
        self.values
            .get(&name, self.recorder)
            .map_err(wasmtime::Error::new)
    }
}
