//! The reporting edge: the Agreed Electronic Format (AEF) of Article 6.2 annual information as
//! an xlsx workbook and as CSV files, and the report's charts as SVG and PNG.
//!
//! It works from a plain in-memory model ([`aef::AefReport`], [`chart::Series`]) that the
//! caller fills from the registry: this crate reads no journal, no database and no clock, so
//! the same model always gives the same bytes. It must not decide anything about the
//! registry's state (what is held, what counts as a first transfer): it lays out what it is
//! given, with the template's exact sheet names and column labels.

pub mod aef;
pub mod chart;
mod tables_csv;
mod xlsx;

use std::path::PathBuf;

pub use aef::{
    ActionRow, ActionType, AefReport, AuthorizationRow, Date, EntityRow, FirstTransferDefinition,
    HoldingRow, ItmoBlock, Metric, MitigationType, Purposes, Table, Table1,
};
pub use chart::{
    bar_chart, bar_chart_svg, emissions_balance_chart, itmo_flows_chart, line_chart,
    line_chart_svg, Chart, ItmoFlows, Series,
};
pub use tables_csv::write_csv;
pub use xlsx::write_xlsx;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("write xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("write csv {}: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A spreadsheet number is an IEEE double: whole numbers above 2^53 would lose digits.
    #[error("number too large for a spreadsheet cell: {value}, above 2^53")]
    NumberTooLarge { value: u64 },
    #[error("too many rows for one sheet: {rows}")]
    TooManyRows { rows: usize },
    #[error("render png: {0}")]
    Png(String),
}
