//! The price file, `prices.toml` beside this module, embedded at build time.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The committed price file's text.
pub const PRICES_TOML: &str = include_str!("prices.toml");

/// The region whose tables apply to every region (Route53).
pub const GLOBAL: &str = "global";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub schema: u32,
    pub hours_per_month: f64,
    /// Source key → where the numbers come from.
    pub sources: BTreeMap<String, String>,
    /// Region → table → item → price.
    pub regions: BTreeMap<String, BTreeMap<String, BTreeMap<String, Price>>>,
}

/// One unit price with its provenance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub usd: f64,
    pub source: String,
    pub as_of: String,
}

impl Prices {
    pub fn parse(text: &str) -> Result<Prices, toml::de::Error> {
        toml::from_str(text)
    }

    /// The embedded file, parsed once. The unit tests parse the same file,
    /// so a broken file fails `cargo test`, not a user's run.
    pub fn embedded() -> &'static Prices {
        static PRICES: OnceLock<Prices> = OnceLock::new();
        PRICES.get_or_init(|| {
            Prices::parse(PRICES_TOML)
                .expect("src/cost/prices.toml is valid (checked by the unit tests)")
        })
    }

    /// `region`'s price of `item` in `table`, falling back to the global
    /// tables; `None` when the file lacks it.
    pub fn get(&self, region: &str, table: &str, item: &str) -> Option<f64> {
        [region, GLOBAL]
            .iter()
            .find_map(|r| self.regions.get(*r)?.get(table)?.get(item))
            .map(|p| p.usd)
    }

    /// Every entry as (region, table, item, price).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, &str, &Price)> {
        self.regions.iter().flat_map(|(r, tables)| {
            tables.iter().flat_map(move |(t, items)| {
                items
                    .iter()
                    .map(move |(i, p)| (r.as_str(), t.as_str(), i.as_str(), p))
            })
        })
    }
}
