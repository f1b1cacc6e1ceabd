//! Test support (not API; shared with the `isoscope` crate's tests) for the enums whose names the outside world sees (anomalies, models,
//! workloads, op types ...). Each name is said once, by a rename rule or a per-variant rename,
//! and three derives read it: serde's, clap's `ValueEnum` (for enums chosen on the command line)
//! and strum's `IntoStaticStr` (the `&'static str` behind `name()`). These checks prove the
//! derives agree, variant by variant, and that every name reads back to its variant.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;
use strum::VariantArray;

/// Asserts that every variant's `&'static str` name is its serde name and deserializes back to
/// the variant; returns the names in variant order, for the caller to pin.
pub fn serde_names<T>() -> Vec<&'static str>
where
    T: VariantArray + Copy + Into<&'static str> + Serialize + DeserializeOwned + PartialEq + Debug,
{
    T::VARIANTS
        .iter()
        .map(|&v| {
            let name: &'static str = v.into();
            let json = serde_json::Value::from(name);
            assert_eq!(
                serde_json::to_value(v).unwrap(),
                json,
                "serde name of {v:?}"
            );
            assert_eq!(
                serde_json::from_value::<T>(json).unwrap(),
                v,
                "{name:?} read back"
            );
            name
        })
        .collect()
}

/// [`serde_names`], and clap offers the same variants under the same names, each parsing back.
pub fn serde_and_clap_names<T>() -> Vec<&'static str>
where
    T: VariantArray
        + clap::ValueEnum
        + Copy
        + Into<&'static str>
        + Serialize
        + DeserializeOwned
        + PartialEq
        + Debug,
{
    let names = serde_names::<T>();
    assert_eq!(T::value_variants(), T::VARIANTS, "clap's variants");
    for (v, name) in T::VARIANTS.iter().zip(&names) {
        let clap = v.to_possible_value().expect("no variant is skipped");
        assert_eq!(clap.get_name(), *name, "clap name of {v:?}");
        assert_eq!(
            T::from_str(name, false).as_ref(),
            Ok(v),
            "{name:?} parsed by clap"
        );
    }
    names
}
