//! The AEF model: the five tables of the Agreed Electronic Format (REFERENCE §1.3, §1.8) as
//! plain data, and each table's exact column labels with the cells of one row.
//!
//! Values are strings, whole numbers and a few controlled vocabularies; the caller formats ids
//! (ITMO ids, registry ids, Party codes). This module does no I/O and knows no file format: the
//! writers (`xlsx`, `csv`) only lay out what [`Table::rows`] gives them, so the two formats can
//! never disagree on a column. Every column of the reference has a label here, even when no
//! row has a value for it (no column is silently dropped). Columns that CARP fills in (Table 1
//! review status and TER reference, Table 3 consistency-check result) have their label and an
//! always-empty value: the registry must not write them.

use std::fmt;

/// A calendar date, written `dd/mm/yyyy` as text (the AEF template's format), never as an
/// Excel serial date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub y: u16,
    pub m: u8,
    pub d: u8,
}

impl Date {
    /// A date, if `m` is 1–12 and `d` is a day of that month (Gregorian leap years).
    pub fn new(y: u16, m: u8, d: u8) -> Option<Date> {
        let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days).contains(&d).then_some(Date { y, m, d })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}/{:04}", self.d, self.m, self.y)
    }
}

/// Table 3 "Action type".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionType {
    Acquisition,
    Transfer,
    Use,
    Cancellation,
    FirstTransfer,
}

impl ActionType {
    pub const ALL: [ActionType; 5] = [
        ActionType::Acquisition,
        ActionType::Transfer,
        ActionType::Use,
        ActionType::Cancellation,
        ActionType::FirstTransfer,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ActionType::Acquisition => "Acquisition",
            ActionType::Transfer => "Transfer",
            ActionType::Use => "Use",
            ActionType::Cancellation => "Cancellation",
            ActionType::FirstTransfer => "First transfer",
        }
    }
}

/// "Metric" (Tables 2, 3, 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    Ghg,
    NonGhg,
}

impl Metric {
    pub fn label(self) -> &'static str {
        match self {
            Metric::Ghg => "GHG",
            Metric::NonGhg => "non-GHG",
        }
    }
}

/// Table 2 "Purposes for authorization".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purposes {
    Ndc,
    Oimp,
    NdcAndOimp,
}

impl Purposes {
    pub fn label(self) -> &'static str {
        match self {
            Purposes::Ndc => "NDC",
            Purposes::Oimp => "OIMP",
            Purposes::NdcAndOimp => "NDC and OIMP",
        }
    }
}

/// Table 2 "First transfer definition for OIMP".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FirstTransferDefinition {
    Authorization,
    Issuance,
    UseOrCancellation,
}

impl FirstTransferDefinition {
    pub fn label(self) -> &'static str {
        match self {
            FirstTransferDefinition::Authorization => "Authorization",
            FirstTransferDefinition::Issuance => "Issuance",
            FirstTransferDefinition::UseOrCancellation => "Use or cancellation",
        }
    }
}

/// Tables 3 and 4 "Mitigation type".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MitigationType {
    EmissionReductions,
    Removals,
}

impl MitigationType {
    pub fn label(self) -> &'static str {
        match self {
            MitigationType::EmissionReductions => "Emission reductions",
            MitigationType::Removals => "Removals",
        }
    }
}

/// One Party's annual information: the five AEF tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AefReport {
    pub table1: Table1,
    pub authorizations: Vec<AuthorizationRow>,
    pub actions: Vec<ActionRow>,
    pub holdings: Vec<HoldingRow>,
    pub entities: Vec<EntityRow>,
}

/// Table 1 "Submission", a form. "Review status of the initial report" and "Reference to the
/// Article 6 technical expert review report of the initial report" are CARP's: they are written
/// as labels with an empty value, so they have no field here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table1 {
    /// ISO 3166 alpha-3, e.g. `IND`.
    pub party: String,
    /// `major.minor`, e.g. `1.0`.
    pub version: String,
    pub reported_year: u16,
    pub submission_date: Option<Date>,
    pub ndc_first_year: u16,
    pub ndc_last_year: u16,
}

/// Table 2 "Authorizations", one row per authorization version (REFERENCE §1.3). `None` is a
/// blank cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRow {
    pub authorization_id: String,
    pub date: Date,
    /// `CA` + 4 digits.
    pub cooperative_approach_id: String,
    pub version: u32,
    /// Whole tonnes CO2 eq (or the non-GHG metric); blank when the authorization sets no cap.
    pub authorized_quantity: Option<u64>,
    pub metric: Metric,
    pub gwp_values: Option<String>,
    pub non_ghg_metric: Option<String>,
    pub sectors: Option<String>,
    pub activity_types: Option<String>,
    pub purposes: Purposes,
    /// ISO alpha-3 codes, as the caller lists them.
    pub authorized_party_ids: Option<String>,
    /// Links to Table 5.
    pub authorized_entity_ids: Option<String>,
    /// e.g. `CORSIA`.
    pub oimp_authorized: Option<String>,
    pub authorized_timeframe: Option<String>,
    pub terms_and_conditions: Option<String>,
    pub documentation: Option<String>,
    pub first_transfer_definition: Option<FirstTransferDefinition>,
}

/// Columns 4–19 of Table 3, which are also the whole of Table 4: one contiguous block of ITMOs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItmoBlock {
    /// `CA` + 4 digits.
    pub cooperative_approach_id: String,
    pub authorization_id: String,
    /// ISO alpha-3.
    pub first_transferring_party_id: String,
    /// ISO alpha-3 + 2 digits, e.g. `IND01`.
    pub party_itmo_registry_id: String,
    /// ITMO identifier (6/CMA.4 annex I para 5), e.g. `CA0001-IND01-IND-1-2026`.
    pub first_id: String,
    pub last_id: String,
    pub underlying_unit_registry_id: Option<String>,
    pub first_unit_id: Option<String>,
    pub last_unit_id: Option<String>,
    pub metric: Metric,
    pub gwp_values: Option<String>,
    pub non_ghg_metric: Option<String>,
    /// Whole tonnes; `None` is written `NA` (a non-GHG block).
    pub quantity_t_co2e: Option<u64>,
    /// `None` is written `NA` (a GHG block).
    pub quantity_non_ghg: Option<u64>,
    pub mitigation_type: MitigationType,
    pub vintage: u16,
}

/// Table 3 "Actions": one row per action and contiguous block. `None` is written `NA` in the
/// columns whose template allows "NA" (the Party ids and the NDC year), and blank elsewhere.
/// Column 26 "Result of the consistency checks" is CARP's: always written empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionRow {
    pub action_date: Date,
    pub action_type: ActionType,
    pub action_subtype: Option<String>,
    pub block: ItmoBlock,
    pub transferring_party_id: Option<String>,
    pub acquiring_party_id: Option<String>,
    pub oimp_purpose: Option<String>,
    pub using_cancelling_party_id: Option<String>,
    pub using_cancelling_entity_id: Option<String>,
    pub ndc_use_year: Option<u16>,
    pub additional_information: Option<String>,
}

/// Table 4 "Holdings": the position at 31 December of the reported year, one row per block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldingRow {
    pub block: ItmoBlock,
}

/// Table 5 "Authorized entities" (REFERENCE §1.3). `None` is a blank cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityRow {
    pub authorization_date: Option<Date>,
    pub name: String,
    pub country_of_incorporation: Option<String>,
    pub identification_number: Option<String>,
    pub cooperative_approach_id: Option<String>,
    pub conditions: Option<String>,
    pub change_and_revocation_conditions: Option<String>,
    pub additional_information: Option<String>,
}

/// One cell as the writers see it: text (ids, dates, vocabularies), a whole number, or blank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Number(u64),
    Empty,
}

impl Cell {
    fn text(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }

    fn opt_text(s: &Option<String>) -> Cell {
        s.as_deref().map_or(Cell::Empty, Cell::text)
    }

    /// `None` → `NA`, for the columns whose template accepts "NA".
    fn text_or_na(s: &Option<String>) -> Cell {
        Cell::text(s.as_deref().unwrap_or("NA"))
    }

    fn number_or_na(n: Option<u64>) -> Cell {
        n.map_or(Cell::text("NA"), Cell::Number)
    }

    /// The cell as CSV text: numbers in plain decimal, blank as the empty string.
    pub fn to_text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => n.to_string(),
            Cell::Empty => String::new(),
        }
    }
}

/// The AEF tables, in workbook order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    Submission,
    Authorizations,
    Actions,
    Holdings,
    AuthorizedEntities,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Submission,
        Table::Authorizations,
        Table::Actions,
        Table::Holdings,
        Table::AuthorizedEntities,
    ];

    /// The sheet name of the AEF template.
    pub fn sheet_name(self) -> &'static str {
        match self {
            Table::Submission => "Table 1 Submission",
            Table::Authorizations => "Table 2 Authorizations",
            Table::Actions => "Table 3 Actions",
            Table::Holdings => "Table 4 Holdings",
            Table::AuthorizedEntities => "Table 5 Auth. entities",
        }
    }

    /// The CSV file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Table::Submission => "table1_submission.csv",
            Table::Authorizations => "table2_authorizations.csv",
            Table::Actions => "table3_actions.csv",
            Table::Holdings => "table4_holdings.csv",
            Table::AuthorizedEntities => "table5_authorized_entities.csv",
        }
    }

    /// The column labels, exactly as in the template. For Table 1 these are the form's labels.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Table::Submission => &TABLE1_LABELS,
            Table::Authorizations => &TABLE2_LABELS,
            Table::Actions => &TABLE3_LABELS,
            Table::Holdings => &TABLE4_LABELS,
            Table::AuthorizedEntities => &TABLE5_LABELS,
        }
    }

    /// The table's records, each with one cell per label. Table 1 has exactly one record.
    pub fn rows(self, report: &AefReport) -> Vec<Vec<Cell>> {
        let rows: Vec<Vec<Cell>> = match self {
            Table::Submission => vec![report.table1.cells().to_vec()],
            Table::Authorizations => report
                .authorizations
                .iter()
                .map(|r| r.cells().to_vec())
                .collect(),
            Table::Actions => report.actions.iter().map(|r| r.cells().to_vec()).collect(),
            Table::Holdings => report.holdings.iter().map(|r| r.cells().to_vec()).collect(),
            Table::AuthorizedEntities => {
                report.entities.iter().map(|r| r.cells().to_vec()).collect()
            }
        };
        debug_assert!(rows.iter().all(|r| r.len() == self.labels().len()));
        rows
    }
}

pub const TABLE1_LABELS: [&str; 8] = [
    "Party",
    "Version",
    "Reported year",
    "Date of submission",
    "Review status of the initial report",
    "First year of the NDC implementation period",
    "Last year of the NDC implementation period",
    "Reference to the Article 6 technical expert review report of the initial report",
];

pub const TABLE2_LABELS: [&str; 18] = [
    "Authorization ID",
    "Date of authorization",
    "Cooperative approach ID",
    "Version of the authorization",
    "Authorized quantity",
    "Metric",
    "Applicable GWP value(s)",
    "Applicable non-GHG metric",
    "Sector(s)",
    "Activity type(s)",
    "Purposes for authorization",
    "Authorized Party(ies) ID",
    "Authorized entity(ies) ID",
    "OIMP authorized by the Party",
    "Authorized timeframe",
    "Authorization terms and conditions",
    "Authorization documentation",
    "First transfer definition for OIMP",
];

/// Columns 4–19 of Table 3; all of Table 4.
const BLOCK_LABELS: [&str; 16] = [
    "Cooperative approach ID",
    "Authorization ID",
    "First transferring participating Party ID",
    "Party ITMO registry ID",
    "First ID",
    "Last ID",
    "Underlying unit registry ID",
    "First unit ID",
    "Last unit ID",
    "Metric",
    "Applicable GWP value(s)",
    "Applicable non-GHG metric",
    "Quantity (t CO2 eq)",
    "Quantity (in non-GHG metric)",
    "Mitigation type",
    "Vintage",
];

pub const TABLE3_LABELS: [&str; 27] = [
    "Action date",
    "Action type",
    "Action subtype",
    BLOCK_LABELS[0],
    BLOCK_LABELS[1],
    BLOCK_LABELS[2],
    BLOCK_LABELS[3],
    BLOCK_LABELS[4],
    BLOCK_LABELS[5],
    BLOCK_LABELS[6],
    BLOCK_LABELS[7],
    BLOCK_LABELS[8],
    BLOCK_LABELS[9],
    BLOCK_LABELS[10],
    BLOCK_LABELS[11],
    BLOCK_LABELS[12],
    BLOCK_LABELS[13],
    BLOCK_LABELS[14],
    BLOCK_LABELS[15],
    "Transferring participating Party ID",
    "Acquiring participating Party ID",
    "Purpose for which the ITMO has been used towards or cancelled for OIMP",
    "Using/cancelling participating Party ID",
    "Using/cancelling authorized entity ID",
    "Calendar year for which the ITMOs are used towards the Party's NDC",
    "Result of the consistency checks",
    "Additional explanatory information",
];

pub const TABLE4_LABELS: [&str; 16] = BLOCK_LABELS;

pub const TABLE5_LABELS: [&str; 8] = [
    "Date of the authorization",
    "Name",
    "Country of incorporation",
    "Identification number",
    "Cooperative approach ID",
    "Conditions",
    "Change and revocation conditions",
    "Additional explanatory information",
];

fn date_cell(d: Option<Date>) -> Cell {
    d.map_or(Cell::Empty, |d| Cell::Text(d.to_string()))
}

impl Table1 {
    pub fn cells(&self) -> [Cell; 8] {
        [
            Cell::text(&self.party),
            Cell::text(&self.version),
            Cell::Number(self.reported_year.into()),
            date_cell(self.submission_date),
            Cell::Empty,
            Cell::Number(self.ndc_first_year.into()),
            Cell::Number(self.ndc_last_year.into()),
            Cell::Empty,
        ]
    }
}

impl AuthorizationRow {
    pub fn cells(&self) -> [Cell; 18] {
        [
            Cell::text(&self.authorization_id),
            date_cell(Some(self.date)),
            Cell::text(&self.cooperative_approach_id),
            Cell::Number(self.version.into()),
            self.authorized_quantity.map_or(Cell::Empty, Cell::Number),
            Cell::text(self.metric.label()),
            Cell::opt_text(&self.gwp_values),
            Cell::opt_text(&self.non_ghg_metric),
            Cell::opt_text(&self.sectors),
            Cell::opt_text(&self.activity_types),
            Cell::text(self.purposes.label()),
            Cell::opt_text(&self.authorized_party_ids),
            Cell::opt_text(&self.authorized_entity_ids),
            Cell::opt_text(&self.oimp_authorized),
            Cell::opt_text(&self.authorized_timeframe),
            Cell::opt_text(&self.terms_and_conditions),
            Cell::opt_text(&self.documentation),
            self.first_transfer_definition
                .map_or(Cell::Empty, |f| Cell::text(f.label())),
        ]
    }
}

impl ItmoBlock {
    pub fn cells(&self) -> [Cell; 16] {
        [
            Cell::text(&self.cooperative_approach_id),
            Cell::text(&self.authorization_id),
            Cell::text(&self.first_transferring_party_id),
            Cell::text(&self.party_itmo_registry_id),
            Cell::text(&self.first_id),
            Cell::text(&self.last_id),
            Cell::opt_text(&self.underlying_unit_registry_id),
            Cell::opt_text(&self.first_unit_id),
            Cell::opt_text(&self.last_unit_id),
            Cell::text(self.metric.label()),
            Cell::opt_text(&self.gwp_values),
            Cell::opt_text(&self.non_ghg_metric),
            Cell::number_or_na(self.quantity_t_co2e),
            Cell::number_or_na(self.quantity_non_ghg),
            Cell::text(self.mitigation_type.label()),
            Cell::Number(self.vintage.into()),
        ]
    }
}

impl ActionRow {
    pub fn cells(&self) -> [Cell; 27] {
        let [b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15] =
            self.block.cells();
        [
            date_cell(Some(self.action_date)),
            Cell::text(self.action_type.label()),
            Cell::opt_text(&self.action_subtype),
            b0,
            b1,
            b2,
            b3,
            b4,
            b5,
            b6,
            b7,
            b8,
            b9,
            b10,
            b11,
            b12,
            b13,
            b14,
            b15,
            Cell::text_or_na(&self.transferring_party_id),
            Cell::text_or_na(&self.acquiring_party_id),
            Cell::opt_text(&self.oimp_purpose),
            Cell::text_or_na(&self.using_cancelling_party_id),
            Cell::opt_text(&self.using_cancelling_entity_id),
            self.ndc_use_year
                .map_or(Cell::text("NA"), |y| Cell::Number(y.into())),
            Cell::Empty,
            Cell::opt_text(&self.additional_information),
        ]
    }
}

impl HoldingRow {
    pub fn cells(&self) -> [Cell; 16] {
        self.block.cells()
    }
}

impl EntityRow {
    pub fn cells(&self) -> [Cell; 8] {
        [
            date_cell(self.authorization_date),
            Cell::text(&self.name),
            Cell::opt_text(&self.country_of_incorporation),
            Cell::opt_text(&self.identification_number),
            Cell::opt_text(&self.cooperative_approach_id),
            Cell::opt_text(&self.conditions),
            Cell::opt_text(&self.change_and_revocation_conditions),
            Cell::opt_text(&self.additional_information),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_renders_day_month_year_with_leading_zeros() {
        assert_eq!(
            Date::new(2026, 3, 5).map(|d| d.to_string()).as_deref(),
            Some("05/03/2026")
        );
        assert_eq!(
            Date::new(2024, 2, 29).map(|d| d.to_string()).as_deref(),
            Some("29/02/2024")
        );
        assert_eq!(Date::new(2025, 2, 29), None);
        assert_eq!(Date::new(2025, 13, 1), None);
        assert_eq!(Date::new(2025, 4, 31), None);
    }

    #[test]
    fn table3_has_the_27_columns_of_the_reference_in_order() {
        assert_eq!(TABLE3_LABELS.len(), 27);
        assert_eq!(TABLE3_LABELS[3], "Cooperative approach ID");
        assert_eq!(TABLE3_LABELS[18], "Vintage");
        assert_eq!(TABLE3_LABELS[25], "Result of the consistency checks");
        assert_eq!(&TABLE3_LABELS[3..19], &TABLE4_LABELS[..]);
    }

    #[test]
    fn controlled_values_render_exactly() {
        let labels: Vec<_> = ActionType::ALL.iter().map(|a| a.label()).collect();
        assert_eq!(
            labels,
            [
                "Acquisition",
                "Transfer",
                "Use",
                "Cancellation",
                "First transfer"
            ]
        );
        assert_eq!(Metric::NonGhg.label(), "non-GHG");
        assert_eq!(Purposes::NdcAndOimp.label(), "NDC and OIMP");
        assert_eq!(
            FirstTransferDefinition::UseOrCancellation.label(),
            "Use or cancellation"
        );
        assert_eq!(
            MitigationType::EmissionReductions.label(),
            "Emission reductions"
        );
    }
}
