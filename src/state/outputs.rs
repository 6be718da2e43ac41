//! The plan's named outputs as the last `up`, `refresh` or `destroy` left
//! them, so `infra output` reads state alone. Kept in `meta` (no schema
//! change); writing them does not bump the serial, since no resource changed.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;
use serde_json::Value;

use super::{StateError, StateStore};

/// Output name → value; `null` where the value is not known (not applied).
pub type NamedOutputs = BTreeMap<String, Value>;

const KEY: &str = "outputs";

impl StateStore {
    /// The recorded outputs; `None` when none were ever recorded.
    pub fn named_outputs(&self) -> Result<Option<NamedOutputs>, StateError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [KEY], |r| r.get(0))
            .optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Replaces the recorded outputs (`None` forgets them: nothing is applied).
    pub fn set_named_outputs(&mut self, outputs: Option<&NamedOutputs>) -> Result<(), StateError> {
        match outputs {
            Some(o) => {
                self.conn.execute(
                    "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                    [KEY, &serde_json::to_string(o).expect("json")],
                )?;
            }
            None => {
                self.conn
                    .execute("DELETE FROM meta WHERE key = ?1", [KEY])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_round_trip_without_bumping_the_serial() {
        let mut s = StateStore::open_in_memory().unwrap();
        assert_eq!(s.named_outputs().unwrap(), None);
        let o: NamedOutputs = [
            ("vpc_id".to_string(), json!("vpc-1")),
            ("ids".to_string(), json!(["a", "b"])),
            ("x".to_string(), Value::Null),
        ]
        .into();
        s.set_named_outputs(Some(&o)).unwrap();
        assert_eq!(s.named_outputs().unwrap(), Some(o));
        assert_eq!(s.serial().unwrap(), 0);
        s.set_named_outputs(None).unwrap();
        assert_eq!(s.named_outputs().unwrap(), None);
    }
}
