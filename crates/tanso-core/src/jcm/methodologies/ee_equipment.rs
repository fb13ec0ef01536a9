//! IN_AM002 — energy-efficient equipment replacing or avoiding less efficient equipment
//! (India's Article 6.2 activity 7). Follows the JCM energy-efficiency family (ID_AM004;
//! REFERENCE §3.6): the reference equipment delivers the same service at a conservative (high)
//! reference COP. Pure arithmetic only.

use crate::jcm::methodology::{
    param, Criterion, Decimal, DefaultValue, Methodology, MonitoringOption, ParamSpec, ParamStage,
    Params,
};

/// Version 1. Approved versions are frozen: change nothing here, add a `V2` instead.
#[derive(Clone, Copy, Debug)]
pub struct EeEquipmentV1;

pub static V1: EeEquipmentV1 = EeEquipmentV1;

// Maxima are generous physical limits (1 000 TWh in one period; COP 100; 10 tCO2/MWh) that
// also keep every product far inside exact decimal range; COP minima keep divisors non-zero.
static PARAMETERS: [ParamSpec; 4] = [
    ParamSpec {
        name: "EC_PJ",
        unit: "MWh",
        description: "power consumption of the project equipment in the period",
        option: MonitoringOption::C,
        stage: ParamStage::Monitored,
        default: None,
        min: Some("0"),
        max: Some("1000000000"),
    },
    ParamSpec {
        name: "COP_PJ",
        unit: "dimensionless",
        description: "rated coefficient of performance of the project equipment",
        option: MonitoringOption::B,
        stage: ParamStage::ExAnte,
        default: None,
        min: Some("0.0001"),
        max: Some("100"),
    },
    ParamSpec {
        name: "COP_RE",
        unit: "dimensionless",
        description: "conservative (high) coefficient of performance of the reference equipment",
        option: MonitoringOption::A,
        stage: ParamStage::ExAnte,
        default: Some(DefaultValue {
            value: "5.0",
            source: "hypothetical conservative default (REFERENCE TV-9); set per methodology additional information",
        }),
        min: Some("0.0001"),
        max: Some("100"),
    },
    ParamSpec {
        name: "EF_elec",
        unit: "tCO2/MWh",
        description: "emission factor of the electricity consumed (grid or captive)",
        option: MonitoringOption::A,
        stage: ParamStage::ExAnte,
        default: None,
        min: Some("0"),
        max: Some("10"),
    },
];

static CRITERIA: [Criterion; 3] = [
    Criterion {
        code: "C1",
        text: "The rated COP of the project equipment exceeds the reference COP",
    },
    Criterion {
        code: "C2",
        text: "The project equipment replaces, or is installed instead of, less efficient equipment delivering the same service",
    },
    Criterion {
        code: "C3",
        text: "The power consumption of the project equipment is metered",
    },
];

const FORMULAS: &str = "\
RE_p = EC_PJ_p * (COP_PJ / COP_RE) * EF_elec  (the reference equipment delivers the same service at COP_RE)
PE_p = EC_PJ_p * EF_elec
ER_p = RE_p - PE_p = EC_PJ_p * EF_elec * (COP_PJ / COP_RE - 1)
credited_p = ER_p rounded to whole tCO2 by the named policy (default floor); a negative ER_p credits 0
where EC_PJ_p = power consumption of the project equipment in period p (MWh, metered),
      COP_PJ = rated COP of the project equipment, COP_RE = conservative (high) reference COP (default 5.0),
      EF_elec = electricity emission factor (tCO2/MWh, fixed ex ante)";

impl Methodology for EeEquipmentV1 {
    fn code(&self) -> &'static str {
        "IN_AM002"
    }
    fn version(&self) -> u32 {
        1
    }
    fn title(&self) -> &'static str {
        "Energy-efficient equipment (COP improvement)"
    }
    fn activity(&self) -> u16 {
        7
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
        let ec = param(p, "EC_PJ");
        let ef = param(p, "EF_elec");
        // Divide last, so the result is exact whenever it is representable (one rounding at
        // most, instead of rounding COP_PJ / COP_RE first). Overflow or a zero divisor is
        // unreachable for inputs within the bounds; if it ever happened, credit nothing
        // rather than too much (RE falls to 0, PE rises to the maximum).
        let re = ec
            .checked_mul(param(p, "COP_PJ"))
            .and_then(|x| x.checked_mul(ef))
            .and_then(|x| x.checked_div(param(p, "COP_RE")))
            .unwrap_or(Decimal::ZERO);
        let pe = ec.checked_mul(ef).unwrap_or(Decimal::MAX);
        (re, pe)
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
    fn tv9_exact() {
        let ex = Params::from([
            ("COP_PJ".to_owned(), d("6.0")),
            ("COP_RE".to_owned(), d("5.0")),
            ("EF_elec".to_owned(), d("0.727")),
        ]);
        let mon = Params::from([("EC_PJ".to_owned(), d("347.2"))]);
        let c = evaluate(&V1, &ex, &mon, Rounding::Floor).unwrap();
        assert_eq!(c.re, d("302.89728"));
        assert_eq!(c.pe, d("252.4144"));
        assert_eq!(c.er, d("50.48288"));
        assert_eq!(c.credited, 50);
    }

    #[test]
    fn unrepresentable_inputs_credit_nothing_rather_than_too_much() {
        // Called directly with a zero divisor (evaluate's bounds forbid it).
        let p = Params::from([
            ("EC_PJ".to_owned(), d("10")),
            ("COP_PJ".to_owned(), d("6")),
            ("COP_RE".to_owned(), d("0")),
            ("EF_elec".to_owned(), d("1")),
        ]);
        let (re, pe) = V1.reference_and_project(&p);
        assert!(re <= pe);
    }
}
