//! Devices people use (browsers, iPhones, iPads, Android phones) and the app installs on
//! them, each with the ids a real SDK would report.

use fake::Fake;
use fake::faker::internet::raw::{IPv4, UserAgent};
use fake::locales::EN;
use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::catalog::{ANDROID_PHONES, ANDROID_VERSIONS, IOS_VERSIONS, IPADS, IPHONES};
use super::ids::{hex, uuid};
use super::people::Person;
use super::plan::Text;
use super::sources::SourceId;
use crate::model::Millis;

/// The kind of device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceKind {
    Web,
    Ios,
    Android,
}

/// A physical device (or, for the web, a browser profile).
#[derive(Debug)]
pub(crate) struct Device {
    pub kind: DeviceKind,
    pub model: &'static str,
    pub manufacturer: &'static str,
    pub os_version: &'static str,
    /// `context.device.id`: IDFV on iOS, the Android id on Android; none on the web.
    pub id: Option<Text>,
    /// IDFA / advertising id.
    pub advertising_id: Option<Text>,
    pub ad_tracking: bool,
    pub user_agent: Option<&'static str>,
    pub ip: Text,
    pub locale: &'static str,
    pub timezone: &'static str,
    /// How far the device clock is off (`originalTimestamp - timestamp`).
    pub clock_skew: Millis,
}

impl Device {
    /// A new device of `kind` owned by `owner` (an iPad when `tablet`).
    pub(crate) fn new(
        rng: &mut ChaCha8Rng,
        kind: DeviceKind,
        owner: &Person,
        tablet: bool,
    ) -> Device {
        let clock_skew = if kind != DeviceKind::Web && rng.random_bool(0.1) {
            rng.random_range(-300_000..300_000)
        } else {
            0
        };
        let at_home = rng.random_bool(0.6);
        let ip = if at_home {
            owner.ip.clone()
        } else {
            Text::from(IPv4(EN).fake_with_rng::<String, _>(rng))
        };
        let base = Device {
            kind,
            model: "",
            manufacturer: "",
            os_version: "",
            id: None,
            advertising_id: None,
            ad_tracking: false,
            user_agent: None,
            ip,
            locale: owner.locale,
            timezone: owner.timezone,
            clock_skew,
        };
        match kind {
            DeviceKind::Web => Device {
                user_agent: Some(UserAgent(EN).fake_with_rng(rng)),
                ..base
            },
            DeviceKind::Ios => {
                // App Tracking Transparency: most people deny, and iOS then reports zeros.
                let ad_tracking = rng.random_bool(0.25);
                let idfa = if ad_tracking {
                    uuid(rng, true)
                } else {
                    "00000000-0000-0000-0000-000000000000".to_string()
                };
                let models = if tablet { IPADS } else { IPHONES };
                Device {
                    model: models.choose(rng).copied().unwrap_or("iPhone15,2"),
                    manufacturer: "Apple",
                    os_version: IOS_VERSIONS.choose(rng).copied().unwrap_or("18.1"),
                    id: Some(uuid(rng, true).into()),
                    advertising_id: Some(idfa.into()),
                    ad_tracking,
                    ..base
                }
            }
            DeviceKind::Android => {
                let &(manufacturer, model) =
                    ANDROID_PHONES.choose(rng).unwrap_or(&ANDROID_PHONES[0]);
                let ad_tracking = rng.random_bool(0.7);
                Device {
                    model,
                    manufacturer,
                    os_version: ANDROID_VERSIONS.choose(rng).copied().unwrap_or("14"),
                    id: Some(hex(rng, 16).into()),
                    advertising_id: Some(uuid(rng, false).into()),
                    ad_tracking,
                    ..base
                }
            }
        }
    }

    /// `ios` or `android` (`context.device.type`); none on the web.
    pub(crate) fn type_name(&self) -> Option<&'static str> {
        match self.kind {
            DeviceKind::Web => None,
            DeviceKind::Ios => Some("ios"),
            DeviceKind::Android => Some("android"),
        }
    }

    /// `context.os.name`.
    pub(crate) fn os_name(&self) -> &'static str {
        match self.kind {
            DeviceKind::Web => "",
            DeviceKind::Ios if self.model.starts_with("iPad") => "iPadOS",
            DeviceKind::Ios => "iOS",
            DeviceKind::Android => "Android",
        }
    }
}

/// An app on a device (or the website in a browser): it owns the anonymousId.
#[derive(Debug)]
pub(crate) struct Install {
    /// Index of the device in the unit.
    pub device: usize,
    pub source: SourceId,
    /// The current anonymousId (changes when the client resets on logout).
    pub anonymous_id: Text,
    /// The push token of the app on this device.
    pub push_token: Option<Text>,
    /// Index into the source's releases.
    pub release: usize,
}

impl Install {
    /// A fresh install of `source` on device `device` of kind `kind`.
    pub(crate) fn new(
        rng: &mut ChaCha8Rng,
        device: usize,
        kind: DeviceKind,
        source: SourceId,
    ) -> Install {
        let releases = source.releases().len().max(1);
        let push_token = match kind {
            DeviceKind::Web => None,
            _ if rng.random_bool(0.4) => None,
            DeviceKind::Ios => Some(hex(rng, 64).into()),
            DeviceKind::Android => Some(format!("{}:APA91b{}", hex(rng, 11), hex(rng, 40)).into()),
        };
        Install {
            device,
            source,
            anonymous_id: new_anonymous_id(rng, kind),
            push_token,
            release: rng.random_range(0..releases),
        }
    }

    /// What the SDK does on `reset()`: a new anonymousId.
    pub(crate) fn reset(&mut self, rng: &mut ChaCha8Rng, kind: DeviceKind) {
        self.anonymous_id = new_anonymous_id(rng, kind);
    }
}

fn new_anonymous_id(rng: &mut ChaCha8Rng, kind: DeviceKind) -> Text {
    uuid(rng, kind == DeviceKind::Ios).into()
}
