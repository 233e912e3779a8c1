//! Realistic demo data with ground truth, and the metrics that compare resolved profiles
//! with that truth.
//!
//! The [`Generator`] streams messy multi-device, multi-app, multi-channel Segment-spec
//! journeys of the fictional grocery company Brightbasket (see [`demo_sources`]), person by
//! person, with the true person behind every event ([`TruthRecord`]). [`evaluate`] scores
//! resolved profiles against that truth (pairwise precision, recall, F1, over-merges,
//! splits) next to the recall ceiling deterministic rules allow.
//!
//! Modules: `settings` (what to generate), `sources` (the company's apps and tools),
//! `people` and `devices` (who and on what), `journey` (what they do), `plan` and `wire`
//! (events and their JSON), `delivery` (late and duplicate arrival), `generator` (the
//! stream), `output` (files), `truth`, `stats`, `evaluate`.

mod catalog;
mod clock;
mod delivery;
mod devices;
mod evaluate;
mod generator;
mod ids;
mod journey;
mod output;
mod people;
mod plan;
mod settings;
mod sources;
mod stats;
mod truth;
mod wire;

pub use clock::{YEAR_END, YEAR_START};
pub use evaluate::{
    EvaluationReport, OverMerge, PersonShare, ResolvedProfile, Split, SplitPart, evaluate,
};
pub use generator::{Delivery, Generator};
pub use output::{Summary, write_dataset, write_files};
pub use settings::{
    DEMO_ACTIVITY, DEMO_PEOPLE, DEMO_SEED, DEMO_TROUBLE_RATE, Settings, SettingsError, TroubleRates,
};
pub use sources::{DemoSource, SECOND_SPACE, demo_sources, demo_sources_in, sources_toml};
pub use stats::{GenerationStats, JourneyStats, TroubleStats, UnlinkableCount};
pub use truth::{
    OTHER_SPACE, ReasonCount, RecallCeiling, Truth, TruthError, TruthRecord, Unlinkable,
};
