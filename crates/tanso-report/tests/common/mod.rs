//! A small but complete AEF report: two authorizations, one action of each type, holdings of
//! both authorizations, two authorized entities.

use tanso_report::*;

pub fn date(y: u16, m: u8, d: u8) -> Date {
    Date::new(y, m, d).expect("test date is valid")
}

/// ITMO id of serial `serial`, vintage `vintage`, under CA0001 in registry IND01.
pub fn itmo(serial: u64, vintage: u16) -> String {
    format!("CA0001-IND01-IND-{serial}-{vintage}")
}

pub fn block(authorization_id: &str, first: u64, last: u64, vintage: u16) -> ItmoBlock {
    ItmoBlock {
        cooperative_approach_id: "CA0001".to_owned(),
        authorization_id: authorization_id.to_owned(),
        first_transferring_party_id: "IND".to_owned(),
        party_itmo_registry_id: "IND01".to_owned(),
        first_id: itmo(first, vintage),
        last_id: itmo(last, vintage),
        underlying_unit_registry_id: Some("JCM-IN".to_owned()),
        first_unit_id: Some(format!("IN-JP-{first}")),
        last_unit_id: Some(format!("IN-JP-{last}")),
        metric: Metric::Ghg,
        gwp_values: Some("100-year values from 5th IPCC assessment".to_owned()),
        non_ghg_metric: None,
        quantity_t_co2e: Some(last - first + 1),
        quantity_non_ghg: None,
        mitigation_type: MitigationType::EmissionReductions,
        vintage,
    }
}

pub const AUTH_1: &str = "IND-JPN-2026-001";
pub const AUTH_2: &str = "IND-JPN-2026-002";

fn action(on: Date, action_type: ActionType, block: ItmoBlock) -> ActionRow {
    ActionRow {
        action_date: on,
        action_type,
        action_subtype: None,
        block,
        transferring_party_id: None,
        acquiring_party_id: None,
        oimp_purpose: None,
        using_cancelling_party_id: None,
        using_cancelling_entity_id: None,
        ndc_use_year: None,
        additional_information: None,
    }
}

pub fn report() -> AefReport {
    AefReport {
        table1: Table1 {
            party: "IND".to_owned(),
            version: "1.0".to_owned(),
            reported_year: 2026,
            submission_date: Some(date(2027, 4, 15)),
            ndc_first_year: 2021,
            ndc_last_year: 2030,
        },
        authorizations: vec![
            AuthorizationRow {
                authorization_id: AUTH_1.to_owned(),
                date: date(2026, 1, 5),
                cooperative_approach_id: "CA0001".to_owned(),
                version: 1,
                authorized_quantity: Some(100_000),
                metric: Metric::Ghg,
                gwp_values: Some("100-year values from 5th IPCC assessment".to_owned()),
                non_ghg_metric: None,
                sectors: Some("Energy".to_owned()),
                activity_types: Some("Solar".to_owned()),
                purposes: Purposes::NdcAndOimp,
                authorized_party_ids: Some("JPN".to_owned()),
                authorized_entity_ids: Some("ENT-01".to_owned()),
                oimp_authorized: Some("CORSIA".to_owned()),
                authorized_timeframe: Some("2026-2030".to_owned()),
                terms_and_conditions: Some(
                    "Revocable before first transfer, \"as agreed\"".to_owned(),
                ),
                documentation: Some("https://example.org/auth/001.pdf".to_owned()),
                first_transfer_definition: Some(FirstTransferDefinition::Authorization),
            },
            AuthorizationRow {
                authorization_id: AUTH_2.to_owned(),
                date: date(2026, 6, 30),
                cooperative_approach_id: "CA0001".to_owned(),
                version: 2,
                authorized_quantity: None,
                metric: Metric::Ghg,
                gwp_values: None,
                non_ghg_metric: None,
                sectors: None,
                activity_types: None,
                purposes: Purposes::Ndc,
                authorized_party_ids: None,
                authorized_entity_ids: None,
                oimp_authorized: None,
                authorized_timeframe: None,
                terms_and_conditions: None,
                documentation: None,
                first_transfer_definition: None,
            },
        ],
        actions: vec![
            ActionRow {
                transferring_party_id: Some("IND".to_owned()),
                acquiring_party_id: Some("JPN".to_owned()),
                ..action(
                    date(2026, 3, 1),
                    ActionType::FirstTransfer,
                    block(AUTH_1, 1, 1000, 2026),
                )
            },
            ActionRow {
                transferring_party_id: Some("IND".to_owned()),
                acquiring_party_id: Some("JPN".to_owned()),
                ..action(
                    date(2026, 5, 2),
                    ActionType::Transfer,
                    block(AUTH_1, 1001, 1200, 2026),
                )
            },
            ActionRow {
                transferring_party_id: Some("JPN".to_owned()),
                acquiring_party_id: Some("IND".to_owned()),
                ..action(
                    date(2026, 7, 3),
                    ActionType::Acquisition,
                    block(AUTH_2, 1, 250, 2027),
                )
            },
            ActionRow {
                action_subtype: Some("use towards NDC".to_owned()),
                using_cancelling_party_id: Some("JPN".to_owned()),
                ndc_use_year: Some(2026),
                ..action(
                    date(2026, 9, 4),
                    ActionType::Use,
                    block(AUTH_1, 1, 400, 2026),
                )
            },
            ActionRow {
                action_subtype: Some("voluntary cancellation".to_owned()),
                using_cancelling_party_id: Some("IND".to_owned()),
                using_cancelling_entity_id: Some("ENT-01".to_owned()),
                additional_information: Some("cancelled, on request".to_owned()),
                ..action(
                    date(2026, 12, 31),
                    ActionType::Cancellation,
                    block(AUTH_1, 401, 450, 2026),
                )
            },
        ],
        holdings: vec![
            HoldingRow {
                block: block(AUTH_1, 1501, 2000, 2026),
            },
            HoldingRow {
                block: block(AUTH_2, 1, 250, 2027),
            },
        ],
        entities: vec![
            EntityRow {
                authorization_date: Some(date(2026, 1, 10)),
                name: "Surya Renewables Pvt Ltd".to_owned(),
                country_of_incorporation: Some("IND".to_owned()),
                identification_number: Some("U40100DL2020PTC000001".to_owned()),
                cooperative_approach_id: Some("CA0001".to_owned()),
                conditions: Some("Use for CORSIA only".to_owned()),
                change_and_revocation_conditions: Some("30 days' notice".to_owned()),
                additional_information: None,
            },
            EntityRow {
                authorization_date: None,
                name: "Nippon Offsets K.K.".to_owned(),
                country_of_incorporation: None,
                identification_number: None,
                cooperative_approach_id: None,
                conditions: None,
                change_and_revocation_conditions: None,
                additional_information: None,
            },
        ],
    }
}
