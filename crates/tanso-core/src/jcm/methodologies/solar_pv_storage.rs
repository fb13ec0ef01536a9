//! IN_AM001 — solar PV with battery energy storage, where only the energy stored and then
//! discharged is credited (India's Article 6.2 activity 1). Follows the JCM solar PV family
//! (TH_AM001, KH_AM002, …; REFERENCE §3.6): RE = EG × EF_RE, PE = 0. Pure arithmetic only.

use crate::jcm::methodology::{
    param, Criterion, Decimal, DefaultValue, Methodology, MonitoringOption, ParamSpec, ParamStage,
    Params,
};

/// Version 1. Approved versions are frozen: change nothing here, add a `V2` instead.
#[derive(Clone, Copy, Debug)]
pub struct SolarPvStorageV1;

pub static V1: SolarPvStorageV1 = SolarPvStorageV1;

// Maxima are generous physical limits (1 000 TWh in one period; 10 tCO2/MWh) that also keep
// every product far inside exact decimal range.
static PARAMETERS: [ParamSpec; 2] = [
    ParamSpec {
        name: "EG_BESS",
        unit: "MWh",
        description: "electricity discharged from the battery energy storage system to the grid or captive load in the period",
        option: MonitoringOption::C,
        stage: ParamStage::Monitored,
        default: None,
        min: Some("0"),
        max: Some("1000000000"),
    },
    ParamSpec {
        name: "EF_RE",
        unit: "tCO2/MWh",
        description: "conservative emission factor of the reference: national grid or captive diesel generator",
        option: MonitoringOption::A,
        stage: ParamStage::ExAnte,
        default: Some(DefaultValue {
            value: "0.533",
            source: "Captive diesel generator: 3.6 GJ/MWh ÷ 0.49 × 72.6 tCO2/TJ ÷ 1000 = 0.53339 (REFERENCE §3.6, TV-11); for a grid reference set the grid EF in the PDD, e.g. CEA v20 weighted average 0.727",
        }),
        min: Some("0"),
        max: Some("10"),
    },
];

static CRITERIA: [Criterion; 3] = [
    Criterion {
        code: "C1",
        text: "The project installs solar PV together with battery energy storage",
    },
    Criterion {
        code: "C2",
        text: "Energy discharged from storage is metered separately and only it is credited",
    },
    Criterion {
        code: "C3",
        text: "The reference is the national grid or a captive diesel generator",
    },
];

const FORMULAS: &str = "\
RE_p = EG_BESS_p * EF_RE
PE_p = 0  (project emissions of solar PV with storage are assumed to be zero)
ER_p = RE_p - PE_p
credited_p = ER_p rounded to whole tCO2 by the named policy (default floor); a negative ER_p credits 0
where EG_BESS_p = electricity discharged from storage in period p (MWh, metered),
      EF_RE = conservative reference emission factor (tCO2/MWh, fixed ex ante; default 0.533 captive diesel)";

impl Methodology for SolarPvStorageV1 {
    fn code(&self) -> &'static str {
        "IN_AM001"
    }
    fn version(&self) -> u32 {
        1
    }
    fn title(&self) -> &'static str {
        "Solar PV with battery energy storage (only stored and discharged energy credited)"
    }
    fn activity(&self) -> u16 {
        1
    }
    fn parameters(&self) -> &'static [ParamSpec] {
        &PARAMETERS
    }
    fn criteria(&self) -> &'static [Criterion] {
        &CRITERIA
    }
    fn formulas(&self) -> &'static str {
        FORMULAS
    }
    fn reference_and_project(&self, p: &Params) -> (Decimal, Decimal) {
        // Unreachable overflow for inputs within the maxima; if it ever happened, credit
        // nothing rather than too much.
        let re = param(p, "EG_BESS")
            .checked_mul(param(p, "EF_RE"))
            .unwrap_or(Decimal::ZERO);
        (re, Decimal::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jcm::methodology::{evaluate, Rounding};

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn tv8_captive_diesel_default() {
        let mon = Params::from([("EG_BESS".to_owned(), d("1500"))]);
        let c = evaluate(&V1, &Params::new(), &mon, Rounding::Floor).unwrap();
        assert_eq!(
            (c.re, c.pe, c.er, c.credited),
            (d("799.5"), d("0"), d("799.5"), 799)
        );
        assert_eq!(c.inputs.get("EF_RE"), Some(&d("0.533")));
    }

    #[test]
    fn tv11_default_matches_its_derivation() {
        // 3.6 GJ/MWh ÷ 0.49 × 72.6 tCO2/TJ ÷ 1000, to three places.
        let derived = d("3.6") / d("0.49") * d("72.6") / d("1000");
        assert_eq!(derived.round_dp(3), d(PARAMETERS[1].default.unwrap().value));
        assert_eq!(derived.round_dp(5), d("0.53339"));
    }
}
